/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The pipeline: see coldplug/rehome.h. Each stage's callback starts the
 * next, so the same code serves the command line (driven to completion by
 * rehome_run()) and the daemon's event loop.
 */
#include <stdlib.h>
#include <string.h>

#include "coldplug/cleanup.h"
#include "coldplug/log.h"
#include "coldplug/qmp.h"
#include "coldplug/rehome.h"
#include "coldplug/verify.h"
#include "util.h"

/**
 * struct pipeline - a run in progress
 * @r:		the outcome, handed to @fn
 * @c:		client
 * @o:		options (copied; o.sel.ids stays borrowed)
 * @after:	the inventory taken after apply
 * @fn:		completion callback
 * @userdata:	passed to @fn
 * @start:	cp_now_ms() at the start
 * @mark:	cp_now_us() when the current stage started
 */
struct pipeline {
	struct rehome *r;
	struct qmp_client *c;
	struct rehome_opts o;
	struct inventory after;
	rehome_fn fn;
	void *userdata;
	int64_t start;
	int64_t mark;
};

/**
 * stage_done() - account the time since the last mark to @stage
 * @p:		run
 * @stage:	the stage that just ended
 */
static void stage_done(struct pipeline *p, enum rehome_stage stage)
{
	int64_t now = cp_now_us();

	p->r->stage_us[stage] += now - p->mark;
	p->mark = now;
}

/**
 * rehome_opts_init() - defaults: Incus's devices, NICs onto PCI slots
 * @o:	options to initialise
 */
void rehome_opts_init(struct rehome_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->sel.id_prefix = INV_INCUS_PREFIX;
	plan_opts_init(&o->plan);
	apply_opts_init(&o->apply);
}

/**
 * rehome_result_name() - short name of a result, for reports
 * @r:	enum rehome_result
 *
 * Return: static string
 */
const char *rehome_result_name(enum rehome_result r)
{
	switch (r) {
	case REHOME_OK:
		return "ok";
	case REHOME_DRY_RUN:
		return "dry-run";
	case REHOME_REFUSED:
		return "refused";
	case REHOME_FAILED:
		return "failed";
	}
	return "?";
}

/**
 * rehome_free() - free an outcome
 * @r:	outcome, may be NULL
 */
void rehome_free(struct rehome *r)
{
	if (!r)
		return;
	inventory_free(&r->before);
	plan_free(&r->plan);
	free(r->results);
	free(r);
}

/**
 * finish() - record how the run ended and report it
 * @p:		run (freed)
 * @result:	enum rehome_result
 * @e:		error, or NULL
 */
static void finish(struct pipeline *p, enum rehome_result result, const struct cp_error *e)
{
	struct rehome *r = p->r;

	r->result = result;
	if (e)
		cp_error_copy(&r->err, e);
	r->ms = cp_now_ms() - p->start;
	inventory_free(&p->after);
	p->fn(r, p->userdata);
	free(p);
}

/**
 * on_after() - inventory_fn: the fresh inventory after apply; verify
 * @inv:	the inventory
 * @e:		error, or NULL
 * @userdata:	the run
 */
static void on_after(struct inventory *inv, const struct cp_error *e, void *userdata)
{
	struct pipeline *p = userdata;
	struct cp_error ve;

	stage_done(p, REHOME_VERIFY);
	if (e) {
		cp_error_copy(&ve, e);
		cp_error_prefix(&ve, "verify");
		ve.code = CP_ERR_FAILED;
		finish(p, REHOME_FAILED, &ve);
		return;
	}
	if (verify_plan(&p->r->plan, p->r->results, inv, &ve) < 0) {
		finish(p, REHOME_FAILED, &ve);
		return;
	}
	p->r->verified = true;
	finish(p, REHOME_OK, NULL);
}

/**
 * on_applied() - apply_fn: collect a fresh inventory (the brief one: all
 * that verify_plan() reads), or report the failure
 * @results:	per-step results
 * @n:		their count
 * @e:		the error that stopped apply, or NULL
 * @userdata:	the run
 */
static void on_applied(struct apply_result *results, size_t n, const struct cp_error *e,
		       void *userdata)
{
	struct pipeline *p = userdata;
	struct cp_error ce;
	size_t i;

	stage_done(p, REHOME_APPLY);
	if (e) {
		cp_error_copy(&ce, e);
		for (i = 0; i < n; i++)
			if (results[i].changed)
				ce.code = CP_ERR_FAILED;
		/* apply refuses only before its first change (the run state) */
		finish(p, ce.code == CP_ERR_REFUSED ? REHOME_REFUSED : REHOME_FAILED, &ce);
		return;
	}
	if (inventory_collect_brief(p->c, &p->o.sel, &p->after, on_after, p, &ce) < 0) {
		ce.code = CP_ERR_FAILED;
		finish(p, REHOME_FAILED, &ce);
	}
}

/**
 * start_apply() - apply the plan, checked (or stop for a dry run)
 * @p:	run, with r->plan built and its host checks passed
 */
static void start_apply(struct pipeline *p)
{
	struct rehome *r = p->r;
	struct cp_error e;
	size_t i;

	stage_done(p, REHOME_PLAN);
	r->results = cp_calloc(r->plan.n, sizeof(*r->results), &e);
	if (!r->results) {
		finish(p, REHOME_FAILED, &e);
		return;
	}
	for (i = 0; i < r->plan.n; i++)
		r->results[i].status = r->plan.steps[i].already ? APPLY_ALREADY : APPLY_PLANNED;
	if (p->o.dry_run) {
		finish(p, REHOME_DRY_RUN, NULL);
		return;
	}
	if (!plan_todo(&r->plan)) {
		cp_log_info("nothing to re-home");
		r->verified = true;
		finish(p, REHOME_OK, NULL);
		return;
	}
	if (apply_start(p->c, &r->plan, &p->o.apply, r->results, on_applied, p, &e) < 0)
		finish(p, REHOME_FAILED, &e);
}

/**
 * plan_refused() - the plan could not be made, or the host refuses it
 * @p:	run
 * @e:	why
 */
static void plan_refused(struct pipeline *p, const struct cp_error *e)
{
	stage_done(p, REHOME_PLAN);
	finish(p, e->code == CP_ERR_REFUSED ? REHOME_REFUSED : REHOME_FAILED, e);
}

/**
 * on_preflight() - apply_preflight_fn: the host checks are in
 * @e:		why the host refuses the plan, or NULL
 * @userdata:	the run
 */
static void on_preflight(const struct cp_error *e, void *userdata)
{
	struct pipeline *p = userdata;

	if (e)
		plan_refused(p, e);
	else
		start_apply(p);
}

/**
 * start_plan() - plan, then check the host (its taps, through the tap
 * helper when QEMU's network namespace is not ours: not waited for here)
 * @p:	run, with r->before filled
 */
static void start_plan(struct pipeline *p)
{
	struct rehome *r = p->r;
	struct cp_error e;
	int rc;

	p->o.apply.pid = r->before.pid;
	if (plan_build(&r->before, &p->o.plan, &r->plan, &e) < 0) {
		plan_refused(p, &e);
		return;
	}
	rc = apply_preflight_start(p->c, &r->plan, &p->o.apply, on_preflight, p, &e);
	if (rc < 0)
		plan_refused(p, &e);
	else if (rc == 1)
		start_apply(p);
}

/**
 * on_before() - inventory_fn: the inventory to plan from
 * @inv:	the inventory
 * @e:		error, or NULL
 * @userdata:	the run
 */
static void on_before(struct inventory *inv, const struct cp_error *e, void *userdata)
{
	struct pipeline *p = userdata;

	(void)inv;
	stage_done(p, REHOME_INVENTORY);
	if (e) {
		finish(p, REHOME_FAILED, e);
		return;
	}
	start_plan(p);
}

/**
 * rehome_start() - run the pipeline asynchronously
 * @c:		ready client
 * @o:		options (copied; o->sel.ids must outlive the run)
 * @fn:		called once with the outcome, which it owns (rehome_free())
 * @userdata:	passed to @fn
 * @err:	filled if it could not start (then @fn is not called)
 *
 * Return: 0, or -1
 */
int rehome_start(struct qmp_client *c, const struct rehome_opts *o, rehome_fn fn, void *userdata,
		 struct cp_error *err)
{
	struct pipeline *p = cp_calloc(1, sizeof(*p), err);

	if (!p)
		return -1;
	p->r = cp_calloc(1, sizeof(*p->r), err);
	if (!p->r) {
		free(p);
		return -1;
	}
	p->c = c;
	p->o = *o;
	p->o.sel.proc_root = p->o.apply.proc_root; /* one tree for both halves */
	p->fn = fn;
	p->userdata = userdata;
	p->start = cp_now_ms();
	p->mark = cp_now_us();
	if (inventory_collect(c, &p->o.sel, &p->r->before, on_before, p, err) < 0) {
		free(p->r);
		free(p);
		return -1;
	}
	return 0;
}

/* The synchronous caller's end of rehome_start(). */
struct run_result {
	struct rehome *r;
};

/**
 * run_done() - rehome_fn for rehome_run()
 * @r:		outcome
 * @userdata:	struct run_result
 */
static void run_done(struct rehome *r, void *userdata)
{
	struct run_result *rr = userdata;

	rr->r = r;
}

/**
 * rehome_run() - run the pipeline synchronously
 * @c:		ready client
 * @o:		options
 * @err:	filled if the pipeline could not start
 *
 * Return: the outcome (check ->result; free with rehome_free()), or NULL
 */
struct rehome *rehome_run(struct qmp_client *c, const struct rehome_opts *o, struct cp_error *err)
{
	struct run_result rr = { 0 };

	if (rehome_start(c, o, run_done, &rr, err) < 0)
		return NULL;
	while (!rr.r)
		if (qmp_client_dispatch(c, -1, NULL) < 0 && !rr.r)
			CP_ASSERT(!"a failed client answers every pending command");
	return rr.r;
}
