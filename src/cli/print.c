/* The printer: JSON as is with --json, else text from the same objects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
	if (s) {
		puts(s);
		free(s);
	}
}

static json_t *lookup(json_t *o, const char *path)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", path);
	char *save, *tok = strtok_r(buf, ".", &save);
	while (tok && o) {
		o = json_object_get(o, tok);
		tok = strtok_r(NULL, ".", &save);
	}
	return o;
}

static char *cell(json_t *v)
{
	char *s = NULL;
	if (!v || json_is_null(v))
		return strdup("-");
	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (json_is_integer(v)) {
		if (asprintf(&s, "%lld", (long long)json_integer_value(v)) < 0)
			return NULL;
		return s;
	}
	if (json_is_boolean(v))
		return strdup(json_is_true(v) ? "yes" : "no");
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

void print_result(json_t *result, const struct col *cols)
{
	if (cli.json) {
		print_json(result);
		return;
	}
	if (!json_is_array(result) || !cols)
		return;
	size_t ncol = 0, nrow = json_array_size(result);
	while (cols[ncol].header)
		ncol++;
	size_t *w = calloc(ncol, sizeof(*w));
	char **cells = calloc((nrow + 1) * ncol, sizeof(*cells));
	if (!w || !cells)
		goto out;
	for (size_t c = 0; c < ncol; c++) {
		cells[c] = strdup(cols[c].header);
		w[c] = strlen(cols[c].header);
	}
	for (size_t r = 0; r < nrow; r++) {
		json_t *o = json_array_get(result, r);
		for (size_t c = 0; c < ncol; c++) {
			char *s = cell(lookup(o, cols[c].key));
			cells[(r + 1) * ncol + c] = s;
			if (s && strlen(s) > w[c])
				w[c] = strlen(s);
		}
	}
	for (size_t r = 0; r <= nrow; r++) {
		for (size_t c = 0; c < ncol; c++) {
			const char *s = cells[r * ncol + c] ? cells[r * ncol + c] : "?";
			if (c + 1 == ncol)
				printf("%s\n", s);
			else
				printf("%-*s  ", (int)w[c], s);
		}
	}
out:
	if (cells)
		for (size_t i = 0; i < (nrow + 1) * ncol; i++)
			free(cells[i]);
	free(cells);
	free(w);
}

void print_object(json_t *obj, const char *const *keys)
{
	if (cli.json) {
		print_json(obj);
		return;
	}
	size_t wmax = 0;
	for (const char *const *k = keys; *k; k++)
		if (strlen(*k) > wmax)
			wmax = strlen(*k);
	for (const char *const *k = keys; *k; k++) {
		char *s = cell(lookup(obj, *k)), label[64];
		snprintf(label, sizeof(label), "%s:", *k);
		printf("%-*s %s\n", (int)wmax + 1, label, s ? s : "?");
		free(s);
	}
}
