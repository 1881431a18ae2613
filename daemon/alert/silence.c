/*
 * silence: the state directory's silences, shared by the CLI (which edits them) and the daemon
 * (which reads them every minute). The file is small JSON written atomically.
 */
#define PW_LOG_MODULE "silence"
#include "silence.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "util.h"

static void path_of(const char *state_dir, char *buf, size_t size) {
  snprintf(buf, size, "%s/silences.json", state_dir);
}

void pw_state_json_error(const json_error_t *jerr, char *buf, size_t size) {
  /* jansson ends its text with " near '<token>'": the file's own bytes, never logged. */
  const char *near = strstr(jerr->text, " near ");
  int len = near != NULL ? (int)(near - jerr->text) : (int)strlen(jerr->text);

  snprintf(buf, size, "line %d, column %d: %.*s", jerr->line, jerr->column, len, jerr->text);
}

json_t *pw_state_json_load(const char *path, int *status, char *why, size_t whylen) {
  json_error_t jerr;
  const char *kind = "";
  json_t *doc;
  char *text = NULL;
  size_t len = 0;
  int rc = pw_read_state_file(path, 0, &text, &len);

  if (rc < 0) {
    int what = rc != -ENOENT ? pw_regular_file(path, &kind) : 0;
    *status = rc;
    if (what < 0 && kind[0] != '\0') {
      *status = what; /* -ELOOP, -EISDIR or -EINVAL */
      snprintf(why, whylen, "%s, not a regular file", kind);
    } else {
      snprintf(why, whylen, "%s", strerror(-rc));
    }
    return NULL;
  }
  doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  free(text);
  if (doc == NULL) {
    *status = -EBADMSG;
    pw_state_json_error(&jerr, why, whylen);
  }
  return doc;
}

int pw_state_set_aside(const char *path, const char *why) {
  char aside[4300];
  int64_t t = pw_clock_real_ms() / 1000;

  snprintf(aside, sizeof(aside), "%s.corrupt-%lld", path, (long long)t);
  if (rename(path, aside) != 0) {
    int rc = -errno;
    pw_log_error("%s is damaged (%s) and cannot be kept aside as %s: %s; it is ignored", path, why,
                 aside, strerror(errno));
    return rc;
  }
  pw_log_error("%s is damaged (%s): kept aside as %s, and started afresh", path, why, aside);
  return 0;
}

json_t *pw_silence_read(const char *state_dir, int *corrupt) {
  char path[4200], why[256];
  json_t *list;
  int rc;

  path_of(state_dir, path, sizeof(path));
  list = pw_state_json_load(path, &rc, why, sizeof(why));
  if (list == NULL && rc == -ENOENT)
    return json_array();
  /* Unreadable (no permission, an I/O error): left where it is, read again next time. A
   * stranger at its name (a FIFO, a link, a directory) is kept aside like a damaged file. */
  if (list == NULL && rc != -EBADMSG && rc != -ELOOP && rc != -EISDIR && rc != -EINVAL) {
    pw_log_error("%s: cannot read it (%s); no silences from it", path, why);
    return json_array();
  }
  if (list == NULL || !json_is_array(list)) {
    if (list != NULL)
      snprintf(why, sizeof(why), "not a JSON array");
    json_decref(list);
    pw_state_set_aside(path, why);
    if (corrupt != NULL)
      *corrupt = 1;
    return json_array();
  }
  return list;
}

json_t *pw_silence_load(const char *state_dir) {
  return pw_silence_read(state_dir, NULL);
}

int pw_silence_save(const char *state_dir, const json_t *list) {
  char path[4200], *text;
  int rc;

  path_of(state_dir, path, sizeof(path));
  text = json_dumps(list, JSON_INDENT(1));
  if (text == NULL)
    return -ENOMEM;
  rc = pw_write_file_atomic(path, text, strlen(text));
  free(text);
  return rc;
}

int pw_silence_active(const json_t *list, const char *id, int64_t now) {
  size_t i;
  json_t *s;

  json_array_foreach(list, i, s) {
    const char *ind = json_string_value(json_object_get(s, "indicator"));
    json_int_t until = json_integer_value(json_object_get(s, "until"));
    if (ind != NULL && strcmp(ind, id) == 0 && now < until)
      return 1;
  }
  return 0;
}
