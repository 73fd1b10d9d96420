/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The TAP producer: see tap.h. Output goes to stdout, unbuffered per line,
 * so that a test that crashes still shows every result before the crash.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

static pthread_mutex_t tap_lock = PTHREAD_MUTEX_INITIALIZER;
static int tap_planned = -1;
static int tap_run;
static int tap_failed;

/**
 * tap_vresult() - print one result line; the caller holds tap_lock
 * @cond:	whether the check passed
 * @fmt:	printf format of the check's name
 * @ap:		its arguments
 */
static void CP_PRINTF(2, 0) tap_vresult(bool cond, const char *fmt, va_list ap)
{
	tap_run++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_run);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
}

/**
 * tap_vdiag() - print a "# " diagnostic, one per line of the text
 * @fmt:	printf format
 * @ap:		its arguments
 *
 * The caller holds tap_lock.
 */
static void CP_PRINTF(1, 0) tap_vdiag(const char *fmt, va_list ap)
{
	char buf[8192];
	char *line, *save = NULL;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		printf("# %s\n", line);
	fflush(stdout);
}

/**
 * plan() - announce how many checks will run
 * @n:	the count
 */
void plan(int n)
{
	pthread_mutex_lock(&tap_lock);
	tap_planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
}

/**
 * done_testing() - close the run: print the plan if none was given
 *
 * Return: the exit status for main(): 0 if every check passed and the count
 * matched the plan, else 1
 */
int done_testing(void)
{
	int rc;

	pthread_mutex_lock(&tap_lock);
	if (tap_planned < 0)
		printf("1..%d\n", tap_run);
	else if (tap_planned != tap_run)
		printf("# planned %d checks but ran %d\n", tap_planned, tap_run);
	if (tap_failed)
		printf("# failed %d of %d checks\n", tap_failed, tap_run);
	rc = (tap_failed || (tap_planned >= 0 && tap_planned != tap_run)) ? 1 : 0;
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
	return rc;
}

/**
 * ok() - a check
 * @cond:	whether it passed
 * @fmt:	printf format of its name
 *
 * Return: @cond
 */
bool ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&tap_lock);
	va_start(ap, fmt);
	tap_vresult(cond, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&tap_lock);
	return cond;
}

/**
 * diag_locked() - print a diagnostic while already holding tap_lock
 * @fmt:	printf format
 */
static void CP_PRINTF(1, 2) diag_locked(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vdiag(fmt, ap);
	va_end(ap);
}

/**
 * is_int() - a check that two integers are equal
 * @got:	the value observed
 * @want:	the value expected
 * @fmt:	printf format of the check's name
 *
 * Return: whether they were equal
 */
bool is_int(long long got, long long want, const char *fmt, ...)
{
	bool cond = got == want;
	va_list ap;

	pthread_mutex_lock(&tap_lock);
	va_start(ap, fmt);
	tap_vresult(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		diag_locked("     got: %lld\nexpected: %lld", got, want);
	pthread_mutex_unlock(&tap_lock);
	return cond;
}

/**
 * is_str() - a check that two strings are equal (NULL equals only NULL)
 * @got:	the string observed, may be NULL
 * @want:	the string expected, may be NULL
 * @fmt:	printf format of the check's name
 *
 * Return: whether they were equal
 */
bool is_str(const char *got, const char *want, const char *fmt, ...)
{
	bool cond = (!got || !want) ? got == want : strcmp(got, want) == 0;
	va_list ap;

	pthread_mutex_lock(&tap_lock);
	va_start(ap, fmt);
	tap_vresult(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		diag_locked("     got: %s%s%s\nexpected: %s%s%s", got ? "'" : "",
			    got ? got : "NULL", got ? "'" : "", want ? "'" : "",
			    want ? want : "NULL", want ? "'" : "");
	pthread_mutex_unlock(&tap_lock);
	return cond;
}

/**
 * like() - a check that @got contains @needle
 * @got:	the string observed, may be NULL (fails)
 * @needle:	the substring expected in it
 * @fmt:	printf format of the check's name
 *
 * Return: whether it did
 */
bool like(const char *got, const char *needle, const char *fmt, ...)
{
	bool cond = got && strstr(got, needle);
	va_list ap;

	pthread_mutex_lock(&tap_lock);
	va_start(ap, fmt);
	tap_vresult(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		diag_locked("     got: %s\nexpected to contain: %s", got ? got : "NULL", needle);
	pthread_mutex_unlock(&tap_lock);
	return cond;
}

/**
 * skip() - record @n checks as skipped (they count as passed in TAP)
 * @n:		how many
 * @fmt:	printf format of the reason
 */
void skip(int n, const char *fmt, ...)
{
	char why[512];
	va_list ap;
	int i;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&tap_lock);
	for (i = 0; i < n; i++)
		printf("ok %d # SKIP %s\n", ++tap_run, why);
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
}

/**
 * diag() - print a diagnostic ("# " before each line)
 * @fmt:	printf format
 */
void diag(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&tap_lock);
	va_start(ap, fmt);
	tap_vdiag(fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&tap_lock);
}

/**
 * bail_out() - stop the whole test run ("Bail out!") and exit 1
 * @fmt:	printf format of the reason
 */
void bail_out(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&tap_lock);
	fputs("Bail out! ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	exit(1);
}

/**
 * tap_failures() - how many checks failed so far
 *
 * Return: the count
 */
int tap_failures(void)
{
	int n;

	pthread_mutex_lock(&tap_lock);
	n = tap_failed;
	pthread_mutex_unlock(&tap_lock);
	return n;
}
