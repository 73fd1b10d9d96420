// SPDX-License-Identifier: LGPL-2.1-or-later

package main

// The scriptlet logger (internal/server/scriptlet/log: CreateLogger): the
// arguments are concatenated without separators, each unquoted if it prints
// as a quoted string, and logged as "QEMU scriptlet (<stage>): <text>" at
// the builtin's level. Incus's daemon log is logrus text; the runner writes
// the same shape to stderr, one line per call (the message is quoted, so
// newlines cannot split it), which the C side tells apart from the error.

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"go.starlark.net/starlark"
)

// logger writes the scriptlet's log lines.
type logger struct {
	out  io.Writer
	name string
}

// newLogger names the logger after the stage, as QEMURun does.
func newLogger(out io.Writer, stage string) *logger {
	return &logger{out: out, name: "QEMU scriptlet (" + stage + ")"}
}

// builtin implements log_info, log_warn and log_error.
func (l *logger) builtin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var sb strings.Builder
	for _, arg := range args {
		s, err := strconv.Unquote(arg.String())
		if err != nil {
			s = arg.String()
		}

		sb.WriteString(s)
	}

	level := "error"
	switch b.Name() {
	case "log_info":
		level = "info"
	case "log_warn":
		level = "warning"
	}

	l.write(level, fmt.Sprintf("%s: %s", l.name, sb.String()))
	return starlark.None, nil
}

// write prints one logrus-style line.
func (l *logger) write(level string, msg string) {
	fmt.Fprintf(l.out, "time=%q level=%s msg=%q\n", time.Now().Format(time.RFC3339), level, msg)
}
