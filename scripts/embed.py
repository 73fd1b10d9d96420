#!/usr/bin/env python3
# Embed a text file in C: embed.py INPUT OUTPUT NAME writes OUTPUT with
#   static const char NAME[] = "...";
# (meson runs it at build time; python3 is there because meson is.)
import sys

src, dst, name = sys.argv[1:4]
with open(src, encoding="utf-8") as f:
    text = f.read()
lines = []
for line in text.splitlines(True):
    esc = line.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    lines.append('\t"' + esc + '"')
with open(dst, "w", encoding="utf-8") as f:
    f.write("/* Generated from %s by scripts/embed.py: do not edit. */\n" % src.split("/")[-1])
    f.write("static const char %s[] =\n%s;\n" % (name, "\n".join(lines) or '\t""'))
