/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for herald.conf (controlplane/config.c on inih): the text
 * an operator, a torn write or a bad merge can leave in /etc/herald. A
 * refused file must say where and why in one line naming the file; an
 * accepted one must be whole: it renders as JSON (heraldctl config show) and
 * as the dataplane's command line (the systemd unit's ExecStart).
 *
 * Key-file paths in the input are opened for reading, as heraldd would; run
 * it as an unprivileged user if that matters where you fuzz.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"

#include "fuzz.h"

#define NAME "fuzz.conf"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct herald_config c;
	char err[512], args[4096];
	char *text = malloc(size + 1);

	check(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	memset(err, 0, sizeof(err));
	int rc = herald_config_load_string(NAME, text, &c, err, sizeof(err));
	free(text);
	if (rc != 0) {
		check(rc < 0 && strncmp(err, NAME, strlen(NAME)) == 0 && strchr(err, '\n') == NULL);
		return 0;
	}
	json_t *j = herald_config_to_json(&c);
	check(j != NULL && json_is_object(j));
	char *dump = json_dumps(j, JSON_COMPACT);
	check(dump != NULL);
	free(dump);
	json_decref(j);
	int n = herald_config_dataplane_args(&c, args, sizeof(args));
	check(n > 0 && (size_t)n < sizeof(args));
	return 0;
}
