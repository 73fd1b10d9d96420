/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The two forms a generated QEMU configuration takes. Apart from
 * coldplug/qconf.h because the macOS machine (coldplug/macos.h) is
 * rendered in them too, and the generator builds on the macOS module, not
 * the other way round.
 */
#ifndef COLDPLUG_QCONF_FORMAT_H
#define COLDPLUG_QCONF_FORMAT_H

/**
 * enum qconf_format - how to render
 * @QCONF_READCONFIG:	a file for qemu -readconfig (with comments)
 * @QCONF_INCUS:	Incus raw.qemu.conf override lines (no comments; new
 *			anonymous sections as [name][100+]; empty sections delete)
 */
enum qconf_format {
	QCONF_READCONFIG,
	QCONF_INCUS,
};

#endif /* COLDPLUG_QCONF_FORMAT_H */
