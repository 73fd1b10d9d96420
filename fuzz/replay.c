/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The replay main() of every fuzz target, used when the targets are not
 * linked with libFuzzer: runs LLVMFuzzerTestOneInput() on every file named
 * on the command line and on every file in every directory named (not
 * recursive), in name order, so that the corpus, and every crash reproducer
 * kept in it, runs as an ordinary test. A crash or a broken invariant aborts
 * the test; the input being run is printed first.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "coldplug/cleanup.h"
#include "fuzz.h"

/**
 * replay_file() - run the target on one file
 * @path:	the file
 *
 * Return: 0, or -1 if it cannot be read
 */
static int replay_file(const char *path)
{
	cleanup_free uint8_t *buf = NULL;
	FILE *f = fopen(path, "rbe");
	long size;

	if (!f || fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	buf = malloc((size_t)size + 1);
	if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
		fprintf(stderr, "replay: %s: cannot read\n", path);
		fclose(f);
		return -1;
	}
	fclose(f);
	fprintf(stderr, "replay: %s (%ld bytes)\n", path, size);
	LLVMFuzzerTestOneInput(buf, (size_t)size);
	return 0;
}

/**
 * replay_dir() - run the target on every regular file in a directory
 * @dir:	the directory
 * @count:	incremented per file run
 *
 * Return: 0, or -1 on any error
 */
static int replay_dir(const char *dir, int *count)
{
	struct dirent **list = NULL;
	char path[4096];
	int n, i, rc = 0;

	n = scandir(dir, &list, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
		if (list[i]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			rc |= replay_file(path);
			(*count)++;
		}
		free(list[i]);
	}
	free(list);
	return rc;
}

/**
 * main() - replay every input named
 * @argc:	argument count
 * @argv:	files and directories
 *
 * Return: 0 if every input ran (and at least one did), else 1
 */
int main(int argc, char **argv)
{
	int i, rc = 0, count = 0;

	for (i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			rc |= replay_dir(argv[i], &count);
		} else {
			rc |= replay_file(argv[i]);
			count++;
		}
	}
	printf("replayed %d inputs\n", count);
	if (count == 0)
		fprintf(stderr, "replay: no inputs (an empty corpus?)\n");
	return rc || count == 0 ? 1 : 0;
}
