/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The test guest's console client and the traffic helpers.
 *
 * The guest (tests/qemu/guest, protocol in its README.md) prints one report
 * between CP-REPORT-BEGIN and CP-REPORT-END on its serial console, then
 * answers framed commands (CP-BEGIN word ... CP-END word rc=N). This client
 * reads the console socket the Incus emulator connected, parses the report
 * into records ("kind key=value ..."), and runs commands, every wait with a
 * deadline. Everything read is also appended to DIR/console.log.
 *
 * The traffic helpers run ping / cptraffic in the test network's peer
 * namespace towards the guest, bounded in count and time, and parse the
 * result.
 */
#ifndef COLDPLUG_LAB_GUEST_H
#define COLDPLUG_LAB_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coldplug/error.h"

struct lab_incus;
struct lab_net;
struct lab_guest;
struct lab_queues;

#define LAB_GUEST_MAX_KV 16

/* The deadline of lab_guest_value()'s command. */
#define LAB_GUEST_CMD_TIMEOUT_MS 60000

/**
 * struct lab_guest_record - one report line: "kind key=value key=value ..."
 * @kind:	"blk", "net", "pci", "usb", "acpi", "input", "netcfg", ...
 * @keys:	keys, in line order
 * @values:	values ("-" means none)
 * @n:		pair count
 */
struct lab_guest_record {
	char *kind;
	char *keys[LAB_GUEST_MAX_KV];
	char *values[LAB_GUEST_MAX_KV];
	size_t n;
};

/**
 * struct lab_guest_report - a parsed report
 * @text:	the lines between the markers, "\n"-separated
 * @recs:	every record, in order
 * @n:		their count
 * @store:	the parsed copy the records point into (internal)
 */
struct lab_guest_report {
	char *text;
	struct lab_guest_record *recs;
	size_t n;
	char *store;
};

/**
 * struct lab_loss - result of a bounded traffic run
 * @sent:		packets sent
 * @received:		packets that arrived
 * @lost:		@sent - @received (never negative)
 * @flows:		flows used (1 for ping)
 * @flows_complete:	flows that lost nothing
 * @loss_pct:		100 * @lost / @sent
 */
struct lab_loss {
	uint64_t sent;
	uint64_t received;
	uint64_t lost;
	unsigned flows;
	unsigned flows_complete;
	double loss_pct;
};

/* The console. */
struct lab_guest *lab_guest_new(struct lab_incus *vm, struct cp_error *err);
struct lab_guest *lab_guest_new_fd(int fd, const char *log_path, struct cp_error *err);
void lab_guest_free(struct lab_guest *g);
int lab_guest_read_report(struct lab_guest *g, int timeout_ms, struct lab_guest_report **out,
			  struct cp_error *err);
int lab_guest_command(struct lab_guest *g, const char *cmd, int timeout_ms, char **output, int *rc,
		      struct cp_error *err);
const char *lab_guest_value(struct lab_guest *g, const char *cmd, const char *key, char *out,
			    size_t size, int *rc);

/* Reports. */
int lab_guest_report_parse(const char *text, struct lab_guest_report **out, struct cp_error *err);
void lab_guest_report_free(struct lab_guest_report *r);
size_t lab_report_count(const struct lab_guest_report *r, const char *kind);
const struct lab_guest_record *lab_report_at(const struct lab_guest_report *r, const char *kind,
					     size_t i);
const struct lab_guest_record *lab_report_find(const struct lab_guest_report *r, const char *kind,
					       const char *key, const char *value);
const char *lab_record_get(const struct lab_guest_record *rec, const char *key);

/* Traffic from the peer namespace to the guest (see lab_incus_nic_ip()). */
int lab_ping(const struct lab_net *net, const char *ip, unsigned count, unsigned interval_ms,
	     struct lab_loss *out, struct cp_error *err);
int lab_cptraffic_udp_result(const char *text, struct lab_loss *out);
int lab_udp(const struct lab_net *net, struct lab_guest *g, const char *ip, unsigned flows,
	    unsigned count, unsigned rate, struct lab_loss *out, struct cp_error *err);
int lab_tcp(const struct lab_net *net, const char *ip, bool rx, unsigned seconds, double *mbit_s,
	    uint64_t *bytes, struct cp_error *err);
int lab_guest_queues(struct lab_guest *g, const char *iface, bool all, struct lab_queues *out,
		     struct cp_error *err);
int lab_guest_cpusend(struct lab_guest *g, const char *ip, unsigned count, struct cp_error *err);
int lab_tcp_connects(const struct lab_net *net, const char *ip, unsigned count,
		     struct lab_loss *out, struct cp_error *err);

#endif /* COLDPLUG_LAB_GUEST_H */
