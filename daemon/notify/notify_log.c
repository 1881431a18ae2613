/*
 * notify_log: the log receiver. Its message is a log line per alert (or one for a briefing),
 * written when the message is built: there is nothing to send, and nothing to retry.
 */
#define PW_LOG_MODULE "notify"
#include <errno.h>
#include <string.h>

#include "log.h"
#include "notifier.h"

static int log_cost(const json_t *payload) {
  (void)payload;
  return 1;
}

static int log_build(const struct pw_notify_input *in, struct pw_notify_message *out, char *err,
                     size_t errlen) {
  const json_t *b = json_object_get(in->payload, "briefing"), *a;
  size_t i;

  (void)err;
  (void)errlen;
  memset(out, 0, sizeof(*out));
  if (json_is_object(b)) {
    const char *week = json_string_value(json_object_get(b, "week"));
    const char *html = json_string_value(json_object_get(b, "html_path"));
    pw_log_info("receiver '%s': briefing %s: %s", in->r->id, week ? week : "?", html ? html : "");
    return 0;
  }
  json_array_foreach(json_object_get(in->payload, "alerts"), i, a) {
    const char *sev = json_string_value(json_object_get(a, "severity"));
    pw_log_info("receiver '%s': alert %s %s%s%s", in->r->id,
                json_string_value(json_object_get(a, "alert")),
                json_string_value(json_object_get(a, "state")), sev ? " " : "", sev ? sev : "");
  }
  return 0;
}

static int log_judge(const struct pw_receiver *r, int rc, long status, const char *body,
                     const char *error, char *err, size_t errlen) {
  (void)r;
  (void)status;
  (void)body;
  (void)error;
  (void)err;
  (void)errlen;
  return rc == 0 ? 0 : -EAGAIN;
}

const struct pw_notifier pw_notifier_log = {
    .type = PW_RECV_LOG,
    .graphs = PW_NOTIFY_NO_GRAPH,
    .cost = log_cost,
    .build = log_build,
    .judge = log_judge,
};
