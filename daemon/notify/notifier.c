/*
 * notifier: the table that maps a receiver type to its notifier, and the message helpers every
 * notifier shares.
 */
#include "notifier.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct pw_notifier *pw_notifier_for(enum pw_receiver_type type) {
  /* Indexed by enum pw_receiver_type, in its order. */
  static const struct pw_notifier *const table[] = {
      [PW_RECV_WEBHOOK] = &pw_notifier_webhook, [PW_RECV_DINGTALK] = &pw_notifier_dingtalk,
      [PW_RECV_WECOM] = &pw_notifier_wecom,     [PW_RECV_FEISHU] = &pw_notifier_feishu,
      [PW_RECV_EMAIL] = &pw_notifier_email,     [PW_RECV_LOG] = &pw_notifier_log};

  if ((unsigned)type >= sizeof(table) / sizeof(table[0]))
    return NULL;
  return table[type];
}

static char *dup_bytes(const char *s, size_t len) {
  char *p = malloc(len + 1);

  if (p != NULL) {
    memcpy(p, s, len);
    p[len] = '\0';
  }
  return p;
}

int pw_notify_add_transfer(struct pw_notify_message *m, const char *url, const char *body,
                           size_t len, const char *h1, const char *h2) {
  struct pw_notify_transfer *ts = realloc(m->transfers, (m->n + 1) * sizeof(*ts)), *t;

  if (ts == NULL)
    return -ENOMEM;
  m->transfers = ts;
  t = &ts[m->n];
  memset(t, 0, sizeof(*t));
  t->url = strdup(url);
  t->body = body != NULL ? dup_bytes(body, len) : NULL;
  t->body_len = body != NULL ? len : 0;
  if (h1 != NULL)
    t->headers[t->n_headers++] = strdup(h1);
  if (h2 != NULL)
    t->headers[t->n_headers++] = strdup(h2);
  if (t->url == NULL || (body != NULL && t->body == NULL) ||
      (h1 != NULL && t->headers[0] == NULL) ||
      (h2 != NULL && t->headers[t->n_headers - 1] == NULL)) {
    free(t->url);
    free(t->body);
    free(t->headers[0]);
    free(t->headers[1]);
    return -ENOMEM;
  }
  m->n++;
  return 0;
}

void pw_notify_message_free(struct pw_notify_message *m) {
  size_t i, k;

  if (m == NULL)
    return;
  for (i = 0; i < m->n; i++) {
    free(m->transfers[i].url);
    free(m->transfers[i].body);
    for (k = 0; k < m->transfers[i].n_headers; k++)
      free(m->transfers[i].headers[k]);
  }
  free(m->transfers);
  if (m->release != NULL)
    m->release(m->state);
  memset(m, 0, sizeof(*m));
}

char *pw_notify_briefing_subject(const json_t *b, const char *title, const char *week, char *buf,
                                 size_t size) {
  /* People read the period in words; the ISO week is for file names and machines. */
  const char *period = json_string_value(json_object_get(json_object_get(b, "document"), "period"));

  snprintf(buf, size, "%s（%s）", title ? title : "周报", period ? period : week ? week : "");
  return buf;
}
