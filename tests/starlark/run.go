// SPDX-License-Identifier: LGPL-2.1-or-later

package main

import (
	"fmt"

	"go.starlark.net/starlark"
)

// qemuRun is the part of QEMURun after the builtins are made: initialise
// the globals with the builtins, freeze them, call qemu_hook(instance=...,
// stage=...), insist on None, and hand back the sections (round-tripped
// through cfg.Section even when the hook did not change them).
func qemuRun(prog *starlark.Program, h *hookEnv, inst *Instance, conf []section) ([]section, error) {
	cfgSections, err := marshalQEMUConf(conf)
	if err != nil {
		return nil, err
	}

	h.cfgSections = cfgSections

	// The thread of QEMUProgram; no Load function, so load() fails.
	thread := &starlark.Thread{Name: "qemu/" + inst.Name}
	globals, err := prog.Init(thread, h.env())
	if err != nil {
		return nil, fmt.Errorf("Failed initializing: %w", err)
	}

	globals.Freeze()

	hook := globals["qemu_hook"]
	if hook == nil {
		return nil, errMissingHook
	}

	instancev, err := starlarkMarshal(inst)
	if err != nil {
		return nil, fmt.Errorf("Marshalling instance failed: %w", err)
	}

	v, err := starlark.Call(thread, hook, nil, []starlark.Tuple{
		{starlark.String("instance"), instancev},
		{starlark.String("stage"), starlark.String(h.stage)},
	})
	if err != nil {
		return nil, fmt.Errorf("Failed to run: %w", err)
	}

	if v.Type() != "NoneType" {
		return nil, fmt.Errorf("Failed with unexpected return value: %v", v)
	}

	return unmarshalQEMUConf(h.cfgSections)
}
