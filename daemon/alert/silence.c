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

#include "log.h"
#include "util.h"

static void path_of(const char *state_dir, char *buf, size_t size) {
  snprintf(buf, size, "%s/silences.json", state_dir);
}

json_t *pw_silence_load(const char *state_dir) {
  char path[4200];
  json_error_t jerr;
  json_t *list;

  path_of(state_dir, path, sizeof(path));
  if (access(path, F_OK) != 0)
    return json_array();
  list = json_load_file(path, 0, &jerr);
  if (list == NULL || !json_is_array(list)) {
    pw_log_error("%s:%d: malformed silences file ignored: %s", path, jerr.line, jerr.text);
    json_decref(list);
    return json_array();
  }
  return list;
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
