// SPDX-License-Identifier: LGPL-2.1-or-later

package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
)

// qemuPredeclared is load.go's QEMUCompile list. The resolver rejects any
// other free name at compile time, so a stub calling a builtin Incus does not
// have fails here exactly as it would in Incus.
var qemuPredeclared = []string{
	"log_info",
	"log_warn",
	"log_error",

	"run_qmp",
	"run_command",
	"blockdev_add",
	"blockdev_del",
	"chardev_add",
	"chardev_change",
	"chardev_remove",
	"device_add",
	"device_del",
	"netdev_add",
	"netdev_del",
	"object_add",
	"object_del",
	"qom_get",
	"qom_list",
	"qom_set",

	"get_qemu_cmdline",
	"set_qemu_cmdline",
	"get_qemu_conf",
	"set_qemu_conf",

	"get_nvram_var",
	"has_nvram_var",
	"set_nvram_var",
	"unset_nvram_var",
	"get_raw_nvram_var",
	"set_raw_nvram_var",
	"list_nvram_vars",
}

// setIncusOptions reproduces scriptlet.Compile's options,
// syntax.LegacyFileOptions() with Set = true. In the Starlark Incus builds
// with, LegacyFileOptions copies the legacy resolve.Allow* globals (all false
// unless a program sets them) and Incus only turns Set on: no while, no
// top-level control flow, no global reassignment, no recursion. This 2021
// interpreter predates FileOptions and reads the same globals directly
// (AllowRecursion covers both while and recursion), so setting them is the
// same configuration. load statements compile but fail when run, because the
// thread has no Load function, as in Incus.
func setIncusOptions() {
	resolve.AllowSet = true
	resolve.AllowGlobalReassign = false
	resolve.AllowRecursion = false
	resolve.LoadBindsGlobally = false
}

// compileScriptlet is scriptlet.Compile for the QEMU scriptlet.
func compileScriptlet(programName string, src string) (*starlark.Program, error) {
	isPredeclared := func(name string) bool {
		for _, p := range qemuPredeclared {
			if p == name {
				return true
			}
		}
		return false
	}

	_, prog, err := starlark.SourceProgram(programName, src, isPredeclared)
	if err != nil {
		return nil, err
	}

	return prog, nil
}

// validateScriptlet is load.QEMUValidate: what Incus checks when
// raw.qemu.scriptlet is set, before any VM starts. It runs the top level with
// no predeclared values, as Incus does, so top-level calls of builtins fail.
func validateScriptlet(src string) error {
	prog, err := compileScriptlet("qemu", src)
	if err != nil {
		return err
	}

	thread := &starlark.Thread{Name: "qemu"}
	globals, err := prog.Init(thread, nil)
	if err != nil {
		return err
	}

	globals.Freeze()
	return checkHook(globals["qemu_hook"], []string{"instance", "stage"})
}

// checkHook is scriptlet.Validate's check of the one required function,
// with its messages.
func checkHook(funv starlark.Value, want []string) error {
	if funv == nil {
		return fmt.Errorf("the function %q is required but has not been found in the scriptlet", "qemu_hook")
	}

	fun, ok := funv.(*starlark.Function)
	if !ok {
		return fmt.Errorf("%q should define the scriptlet’s required function of the same name (found a value of type %s instead)", "qemu_hook", funv.Type())
	}

	var got []string
	for i := 0; i < fun.NumParams(); i++ {
		name, _ := fun.Param(i)
		got = append(got, name)
	}

	// Incus sorts both lists in place when their lengths match, before
	// comparing, so its message shows them sorted in that case only.
	match := len(got) == len(want)
	if match {
		sort.Strings(got)
		sort.Strings(want)
		match = strings.Join(got, "\x00") == strings.Join(want, "\x00")
	}

	if !match {
		return fmt.Errorf("the required function %q defines arguments %q (expected %q)", "qemu_hook", got, want)
	}

	return nil
}

// errMissingHook is QEMURun's error when the program has no qemu_hook.
var errMissingHook = errors.New("Scriptlet missing qemu_hook function")
