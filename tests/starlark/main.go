// SPDX-License-Identifier: LGPL-2.1-or-later

// Command incus-scriptlet runs an Incus QEMU scriptlet (raw.qemu.scriptlet)
// the way Incus does, so that coldplug's generated stub is tested under
// Incus's own rules rather than a look-alike: the same Starlark interpreter
// (Debian's 2021 snapshot of go.starlark.net), the same compile options and
// predeclared names, the same builtins with the same errors, the instance
// marshalled as Incus marshals it, and Incus's QMP monitor behaviour over
// fd 3 (see monitor.go).
//
//	incus-scriptlet --script FILE --stage STAGE --instance FILE
//	                [--conf-in FILE --conf-out FILE]
//	                [--cmdline-in FILE --cmdline-out FILE]
//	incus-scriptlet --validate --script FILE
//
// Exit 0 when the hook returned None (stderr then holds only log lines);
// exit 1 with Incus's error text on stderr otherwise; exit 2 on bad usage.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"
)

// options are the command-line flags.
type options struct {
	script     string
	stage      string
	instance   string
	confIn     string
	confOut    string
	cmdlineIn  string
	cmdlineOut string
	validate   bool
}

// parseFlags reads the command line; it exits 2 on bad usage.
func parseFlags() *options {
	o := &options{}
	fs := flag.NewFlagSet("incus-scriptlet", flag.ExitOnError)
	fs.StringVar(&o.script, "script", "", "the scriptlet (raw.qemu.scriptlet)")
	fs.StringVar(&o.stage, "stage", "", "config, early, pre-start or post-start")
	fs.StringVar(&o.instance, "instance", "", "api.Instance as JSON")
	fs.StringVar(&o.confIn, "conf-in", "", "qemu.conf sections as JSON ([{name,comment,entries}])")
	fs.StringVar(&o.confOut, "conf-out", "", "where the sections go afterwards")
	fs.StringVar(&o.cmdlineIn, "cmdline-in", "", "QEMU's arguments as a JSON list of strings")
	fs.StringVar(&o.cmdlineOut, "cmdline-out", "", "where the arguments go afterwards")
	fs.BoolVar(&o.validate, "validate", false, "only validate, as Incus does when the key is set")
	_ = fs.Parse(os.Args[1:])

	ok := o.script != "" && fs.NArg() == 0
	if !o.validate {
		ok = ok && o.stage != "" && o.instance != ""
	}

	if !ok {
		fs.Usage()
		os.Exit(2)
	}

	return o
}

// fd3IsSocket tells whether the caller passed the QMP socket. It must run
// before anything else opens a file, or fd 3 could be one of our own.
func fd3IsSocket() bool {
	var st syscall.Stat_t
	err := syscall.Fstat(3, &st)
	return err == nil && st.Mode&syscall.S_IFMT == syscall.S_IFSOCK
}

func main() {
	haveQMP := fd3IsSocket()
	setIncusOptions()
	o := parseFlags()

	src, err := os.ReadFile(o.script)
	if err != nil {
		fail(err)
	}

	if o.validate {
		if err := validateScriptlet(string(src)); err != nil {
			fail(err)
		}

		return
	}

	var mon *monitor
	if haveQMP {
		mon = newMonitor()
	} else {
		mon = &monitor{disconnected: true}
	}

	if err := run(o, string(src), mon); err != nil {
		fail(err)
	}
}

// fail prints the error as Incus's error text and exits 1.
func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

// run does what Incus does for one stage: validate the key, load the
// program (QEMUSet), then QEMURun; and writes back what the hook changed.
func run(o *options, src string, mon *monitor) error {
	inst, err := readInstance(o.instance)
	if err != nil {
		return err
	}

	conf, cmdArgs, err := readInputs(o)
	if err != nil {
		return err
	}

	if err := validateScriptlet(src); err != nil {
		return err
	}

	prog, err := compileScriptlet("qemu/"+inst.Name, src)
	if err != nil {
		return fmt.Errorf("Failed loading QEMU scriptlet: %w", err)
	}

	h := &hookEnv{stage: o.stage, mon: mon, log: newLogger(os.Stderr, o.stage), cmdArgs: &cmdArgs}
	conf, err = qemuRun(prog, h, inst, conf)
	if err != nil {
		return err
	}

	return writeOutputs(o, conf, cmdArgs)
}

// readInputs loads the optional configuration and command line.
func readInputs(o *options) ([]section, []string, error) {
	var conf []section
	var cmdArgs []string

	if o.confIn != "" {
		if err := readJSON(o.confIn, &conf); err != nil {
			return nil, nil, err
		}
	}

	if o.cmdlineIn != "" {
		if err := readJSON(o.cmdlineIn, &cmdArgs); err != nil {
			return nil, nil, err
		}
	}

	return conf, cmdArgs, nil
}

// writeOutputs saves the configuration and command line as the hook left them.
func writeOutputs(o *options, conf []section, cmdArgs []string) error {
	if o.confOut != "" {
		if err := writeJSON(o.confOut, conf); err != nil {
			return err
		}
	}

	if o.cmdlineOut != "" {
		if err := writeJSON(o.cmdlineOut, cmdArgs); err != nil {
			return err
		}
	}

	return nil
}

// readJSON decodes a file.
func readJSON(path string, v interface{}) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}

	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}

	return nil
}

// writeJSON encodes into a file, replacing what it held.
func writeJSON(path string, v interface{}) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}

	_, err = io.WriteString(f, string(data)+"\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}

	return err
}
