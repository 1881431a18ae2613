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
#include "value.h"

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

const char *pw_silence_target(const json_t *s) {
  const char *t = json_string_value(json_object_get(s, "target"));

  return t != NULL ? t : json_string_value(json_object_get(s, "indicator"));
}

int pw_silence_active(const json_t *list, const char *target, int64_t now) {
  size_t i;
  json_t *s;

  json_array_foreach(list, i, s) {
    const char *t = pw_silence_target(s);
    json_int_t until = json_integer_value(json_object_get(s, "until"));
    if (t != NULL && strcmp(t, target) == 0 && now < until)
      return 1;
  }
  return 0;
}

/* N of an id "sN", or 0 for any other id. */
static long id_number(const char *sid) {
  char *end;
  long n;

  if (sid == NULL || sid[0] != 's' || sid[1] < '1' || sid[1] > '9')
    return 0;
  errno = 0;
  n = strtol(sid + 1, &end, 10);
  return errno == 0 && *end == '\0' && n > 0 && n < 1000000000L ? n : 0;
}

int pw_silence_assign_ids(json_t *list) {
  long top = 0;
  size_t i;
  json_t *s;
  int given = 0;

  json_array_foreach(list, i, s) {
    long n = id_number(json_string_value(json_object_get(s, "id")));
    if (n > top)
      top = n;
  }
  json_array_foreach(list, i, s) {
    char sid[24];
    if (!json_is_object(s) || json_is_string(json_object_get(s, "id")))
      continue;
    snprintf(sid, sizeof(sid), "s%ld", ++top);
    if (json_object_set_new(s, "id", json_string(sid)) != 0)
      return -ENOMEM;
    given++;
  }
  return given;
}

int pw_silence_find(const json_t *list, const char *sid) {
  size_t i;
  json_t *s;

  json_array_foreach(list, i, s) {
    const char *id = json_string_value(json_object_get(s, "id"));
    if (id != NULL && strcmp(id, sid) == 0)
      return (int)i;
  }
  return -1;
}

int pw_silence_until(const char *for_text, const char *until_text, int64_t now, int64_t *until,
                     char *err, size_t errlen) {
  int64_t d;

  if ((for_text == NULL) == (until_text == NULL)) {
    snprintf(err, errlen, "give either --for DURATION (e.g. 3d) or --until TIME, not %s",
             for_text == NULL ? "neither" : "both");
    return -EINVAL;
  }
  if (for_text != NULL) {
    if (pw_duration_parse(for_text, &d) < 0 || d <= 0) {
      snprintf(err, errlen, "--for '%s' is not a duration (e.g. 90m, 12h, 3d, 1w)", for_text);
      return -EINVAL;
    }
    if (d > INT64_MAX - now) {
      snprintf(err, errlen, "--for '%s' is too long", for_text);
      return -EINVAL;
    }
    *until = now + d;
    return 0;
  }
  if (pw_date_parse(until_text, &d) < 0) {
    snprintf(err, errlen,
             "--until '%s' is not a time (YYYY-MM-DD or e.g. 2024-04-30T12:00:00+08:00)",
             until_text);
    return -EINVAL;
  }
  if (d <= now) {
    snprintf(err, errlen, "--until '%s' is not in the future: the silence would never apply",
             until_text);
    return -ERANGE;
  }
  *until = d;
  return 0;
}
