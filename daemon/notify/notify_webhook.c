/*
 * notify_webhook: the generic webhook receiver. The notification itself (docs/alerts.md's
 * webhook body) is POSTed as JSON with its delivery id in X-Pacewatch-Delivery, so a receiver
 * can recognise a retry; any 2xx answer delivers it, anything else is retried.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "notifier.h"

static int webhook_cost(const json_t *payload) {
  (void)payload;
  return 1;
}

static int webhook_build(const struct pw_notify_input *in, struct pw_notify_message *out, char *err,
                         size_t errlen) {
  char head[128], *body;
  int rc;

  memset(out, 0, sizeof(*out));
  body = pw_json_dumps(in->payload, JSON_COMPACT);
  if (body == NULL) {
    snprintf(err, errlen, "out of memory encoding the notification");
    return -EAGAIN;
  }
  snprintf(head, sizeof(head), "X-Pacewatch-Delivery: %s", in->delivery);
  rc = pw_notify_add_transfer(out, in->r->url, body, strlen(body), "Content-Type: application/json",
                              head);
  free(body);
  if (rc < 0) {
    snprintf(err, errlen, "out of memory");
    return -EAGAIN;
  }
  return 0;
}

static int webhook_judge(const struct pw_receiver *r, int rc, long status, const char *body,
                         const char *error, char *err, size_t errlen) {
  (void)r;
  (void)status;
  (void)body;
  snprintf(err, errlen, "%s", error != NULL ? error : "error");
  return rc == 0 ? 0 : -EAGAIN;
}

const struct pw_notifier pw_notifier_webhook = {
    .type = PW_RECV_WEBHOOK,
    .graphs = PW_NOTIFY_NO_GRAPH,
    .cost = webhook_cost,
    .build = webhook_build,
    .judge = webhook_judge,
};
