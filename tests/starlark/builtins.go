// SPDX-License-Identifier: LGPL-2.1-or-later

package main

// The scriptlet's builtins, as QEMURun (internal/server/scriptlet/qemu.go)
// defines them: same names, same argument handling, same error texts, same
// stage checks. Only the NVRAM functions differ: the runner has no NVRAM.

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.starlark.net/starlark"
)

// builtinFn is the signature of every Starlark builtin.
type builtinFn func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error)

// hookEnv is the state QEMURun's closures share.
type hookEnv struct {
	stage       string
	mon         *monitor
	log         *logger
	cmdArgs     *[]string
	cfgSections []map[string]interface{}
}

// assertQEMUStarted refuses QMP at the config stage, when QEMU is not running.
func (h *hookEnv) assertQEMUStarted(name string) error {
	if h.stage == "config" {
		return fmt.Errorf("%s cannot be called at config stage", name)
	}

	return nil
}

// assertConfigStage allows changes to the command line and configuration
// only before QEMU starts.
func (h *hookEnv) assertConfigStage(name string) error {
	if h.stage != "config" {
		return fmt.Errorf("%s can only be called at config stage", name)
	}

	return nil
}

// runQMP is run_qmp: the raw command with an id injected, the whole reply
// returned (QEMU's errors become the call's error).
func (h *hookEnv) runQMP(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	err := h.assertQEMUStarted(b.Name())
	if err != nil {
		return nil, err
	}

	var command *starlark.Dict
	err = starlark.UnpackArgs(b.Name(), args, kwargs, "command", &command)
	if err != nil {
		return nil, err
	}

	value, err := starlarkUnmarshal(command)
	if err != nil {
		return nil, err
	}

	// A dict always unmarshals to a map; Incus keeps a zero id otherwise.
	req, _ := value.(map[string]interface{})
	id := h.mon.increaseID()
	req["id"] = id

	var resp map[string]interface{}
	err = h.mon.runJSON(req, &resp, id)
	if err != nil {
		return nil, err
	}

	rv, err := starlarkMarshal(resp)
	if err != nil {
		return nil, fmt.Errorf("Marshalling QMP response failed: %w", err)
	}

	return rv, nil
}

// runCommandFromKwargs sends @funName with the keyword arguments as its
// arguments and returns the reply's "return".
func (h *hookEnv) runCommandFromKwargs(funName string, kwargs []starlark.Tuple) (starlark.Value, error) {
	qmpArgs := make(map[string]interface{})
	for _, kwarg := range kwargs {
		key, err := starlarkUnmarshal(kwarg.Index(0))
		if err != nil {
			return nil, err
		}

		value, err := starlarkUnmarshal(kwarg.Index(1))
		if err != nil {
			return nil, err
		}

		qmpArgs[key.(string)] = value
	}

	var resp struct {
		Return interface{}
	}

	err := h.mon.run(funName, qmpArgs, &resp)
	if err != nil {
		return nil, err
	}

	rv, err := starlarkMarshal(resp.Return)
	if err != nil {
		return nil, fmt.Errorf("Marshalling QMP response failed: %w", err)
	}

	return rv, nil
}

// runCommand is run_command(name, **kwargs).
func (h *hookEnv) runCommand(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	err := h.assertQEMUStarted(b.Name())
	if err != nil {
		return nil, err
	}

	frame := thread.CallFrame(1)
	errPrefix := fmt.Sprintf("run_command (%d:%d):", frame.Pos.Line, frame.Pos.Col)

	if args.Len() != 1 {
		return nil, fmt.Errorf("%s Expected exactly one positional argument, got %d", errPrefix, args.Len())
	}

	arg, err := starlarkUnmarshal(args.Index(0))
	if err != nil {
		return nil, err
	}

	funName, ok := arg.(string)
	if !ok {
		return nil, fmt.Errorf("%s The positional argument must be a string representing a QMP function", errPrefix)
	}

	return h.runCommandFromKwargs(funName, kwargs)
}

// makeQOM is makeQOM: a keyword-only builtin for one QMP command, named
// after it with "-" turned into "_".
func (h *hookEnv) makeQOM(funName string) *starlark.Builtin {
	fun := func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		err := h.assertQEMUStarted(b.Name())
		if err != nil {
			return nil, err
		}

		frame := thread.CallFrame(1)
		errPrefix := fmt.Sprintf("%s (%d:%d):", b.Name(), frame.Pos.Line, frame.Pos.Col)

		if args.Len() != 0 {
			return nil, fmt.Errorf("%s Expected only keyword arguments, got %d positional argument(s)", errPrefix, args.Len())
		}

		return h.runCommandFromKwargs(funName, kwargs)
	}

	return starlark.NewBuiltin(strings.ReplaceAll(funName, "-", "_"), fun)
}

// getCmdArgs is get_qemu_cmdline().
func (h *hookEnv) getCmdArgs(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	err := starlark.UnpackArgs(b.Name(), args, kwargs)
	if err != nil {
		return nil, err
	}

	rv, err := starlarkMarshal(h.cmdArgs)
	if err != nil {
		return nil, fmt.Errorf("Marshalling QEMU command-line arguments failed: %w", err)
	}

	return rv, nil
}

// setCmdArgs is set_qemu_cmdline(args): a list of strings that may not add
// or drop -bios or -kernel.
func (h *hookEnv) setCmdArgs(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	err := h.assertConfigStage(b.Name())
	if err != nil {
		return nil, err
	}

	var list *starlark.List
	err = starlark.UnpackArgs(b.Name(), args, kwargs, "args", &list)
	if err != nil {
		return nil, err
	}

	newArgs, err := stringList(b.Name(), list)
	if err != nil {
		return nil, err
	}

	newBios, newKernel := hasBiosKernel(newArgs)
	bios, kernel := hasBiosKernel(*h.cmdArgs)
	if bios != newBios || kernel != newKernel {
		return nil, errors.New("Addition or deletion of -bios or -kernel is unsupported")
	}

	*h.cmdArgs = newArgs
	return starlark.None, nil
}

// stringList converts a Starlark list that must hold strings only.
func stringList(name string, list *starlark.List) ([]string, error) {
	anyList, err := starlarkUnmarshal(list)
	if err != nil {
		return nil, err
	}

	items, ok := anyList.([]interface{})
	if !ok {
		return nil, fmt.Errorf("%s requires a list of strings", name)
	}

	var out []string
	for _, item := range items {
		s, ok := item.(string)
		if !ok {
			return nil, fmt.Errorf("%s requires a list of strings", name)
		}

		out = append(out, s)
	}

	return out, nil
}

// hasBiosKernel reports whether -bios and -kernel appear as words.
func hasBiosKernel(args []string) (bool, bool) {
	var bios, kernel bool
	for _, arg := range args {
		switch arg {
		case "-bios":
			bios = true
		case "-kernel":
			kernel = true
		}
	}

	return bios, kernel
}

// getConf is get_qemu_conf(): the sections as plain dicts.
func (h *hookEnv) getConf(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	err := starlark.UnpackArgs(b.Name(), args, kwargs)
	if err != nil {
		return nil, err
	}

	rv, err := starlarkMarshal(h.cfgSections)
	if err != nil {
		return nil, fmt.Errorf("Marshalling QEMU configuration failed: %w", err)
	}

	return rv, nil
}

// setConf is set_qemu_conf(conf): a list of dicts that must also read as
// []cfg.Section (string names, comments and entry values).
func (h *hookEnv) setConf(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	err := h.assertConfigStage(b.Name())
	if err != nil {
		return nil, err
	}

	var newConf *starlark.List
	err = starlark.UnpackArgs(b.Name(), args, kwargs, "conf", &newConf)
	if err != nil {
		return nil, err
	}

	confAny, err := starlarkUnmarshal(newConf)
	if err != nil {
		return nil, err
	}

	sections, ok := sectionMaps(confAny)
	if !ok {
		return nil, fmt.Errorf("%s requires a valid configuration", b.Name())
	}

	_, err = unmarshalQEMUConf(confAny)
	if err != nil {
		return nil, fmt.Errorf("%s requires a valid configuration", b.Name())
	}

	h.cfgSections = sections
	return starlark.None, nil
}

// sectionMaps checks that @confAny is a list of dicts.
func sectionMaps(confAny interface{}) ([]map[string]interface{}, bool) {
	list, ok := confAny.([]interface{})
	if !ok {
		return nil, false
	}

	var sections []map[string]interface{}
	for _, item := range list {
		section, ok := item.(map[string]interface{})
		if !ok {
			return nil, false
		}

		sections = append(sections, section)
	}

	return sections, true
}

// noNVRAM stands in for the NVRAM builtins: the runner has no UEFI store.
// The stage checks of the setters come first, as in Incus.
func (h *hookEnv) noNVRAM(setter bool) builtinFn {
	return func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if setter {
			err := h.assertConfigStage(b.Name())
			if err != nil {
				return nil, err
			}
		}

		return nil, fmt.Errorf("%s: NVRAM is not available in the test runner", b.Name())
	}
}

// env is QEMURun's env: every name load.go predeclares.
func (h *hookEnv) env() starlark.StringDict {
	logFn := h.log.builtin
	env := starlark.StringDict{
		"log_info":  starlark.NewBuiltin("log_info", logFn),
		"log_warn":  starlark.NewBuiltin("log_warn", logFn),
		"log_error": starlark.NewBuiltin("log_error", logFn),

		"run_qmp":     starlark.NewBuiltin("run_qmp", h.runQMP),
		"run_command": starlark.NewBuiltin("run_command", h.runCommand),

		"get_qemu_cmdline": starlark.NewBuiltin("get_qemu_cmdline", h.getCmdArgs),
		"set_qemu_cmdline": starlark.NewBuiltin("set_qemu_cmdline", h.setCmdArgs),
		"get_qemu_conf":    starlark.NewBuiltin("get_qemu_conf", h.getConf),
		"set_qemu_conf":    starlark.NewBuiltin("set_qemu_conf", h.setConf),
	}

	for _, cmd := range []string{"blockdev-add", "blockdev-del", "chardev-add", "chardev-change",
		"chardev-remove", "device_add", "device_del", "netdev_add", "netdev_del",
		"object-add", "object-del", "qom-get", "qom-list", "qom-set"} {
		q := h.makeQOM(cmd)
		env[q.Name()] = q
	}

	for _, name := range []string{"get_nvram_var", "has_nvram_var", "get_raw_nvram_var", "list_nvram_vars"} {
		env[name] = starlark.NewBuiltin(name, h.noNVRAM(false))
	}

	for _, name := range []string{"set_nvram_var", "unset_nvram_var", "set_raw_nvram_var"} {
		env[name] = starlark.NewBuiltin(name, h.noNVRAM(true))
	}

	return env
}

// marshalQEMUConf is qemu.go's: sections to plain maps through JSON.
func marshalQEMUConf(conf interface{}) ([]map[string]interface{}, error) {
	data, err := json.Marshal(conf)
	if err != nil {
		return nil, err
	}

	var out []map[string]interface{}
	err = json.Unmarshal(data, &out)
	if err != nil {
		return nil, err
	}

	return out, nil
}

// unmarshalQEMUConf is qemu.go's: plain maps back to sections, which checks
// their types.
func unmarshalQEMUConf(conf interface{}) ([]section, error) {
	data, err := json.Marshal(conf)
	if err != nil {
		return nil, err
	}

	var out []section
	err = json.Unmarshal(data, &out)
	if err != nil {
		return nil, err
	}

	return out, nil
}

// section is cfg.Section, one [name] of qemu.conf.
type section struct {
	Name    string            `json:"name"`
	Comment string            `json:"comment"`
	Entries map[string]string `json:"entries"`
}
