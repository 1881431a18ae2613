/*
 * notifier: one table of functions per receiver type (webhook, dingtalk, wecom, feishu, email,
 * log), the only place that knows how a type sends. Delivery (alert/delivery.c) asks a
 * receiver's notifier which trend graphs a message shows and what it costs against the
 * receiver's rate budget, has it build the message of a spooled notification, sends the
 * transfers the message lists through the daemon's one fetcher, and has it judge each answer.
 * Notifiers never render graphs and do no file I/O: the graphs (PNG bytes from the graph cache)
 * and the briefing's HTML arrive in their input.
 */
#ifndef PW_NOTIFIER_H
#define PW_NOTIFIER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* The trend graphs a notifier shows with a notification's alerts. */
enum pw_notify_graphs {
  PW_NOTIFY_NO_GRAPH = 0, /* none */
  PW_NOTIFY_FIRST_GRAPH,  /* the graph of the first alert that names an indicator (WeCom) */
  PW_NOTIFY_EACH_GRAPH    /* each such alert's graph, at most PW_NOTIFY_MAX_GRAPHS (email) */
};
#define PW_NOTIFY_MAX_GRAPHS 8

/* What a message is built from. Everything is borrowed for the call. */
struct pw_notify_input {
  const struct pw_receiver *r;
  const json_t *payload;  /* the notification: docs/alerts.md's webhook body, sent_at set */
  const char *delivery;   /* its delivery id */
  const char *public_url; /* daemon.public_url ("" when none) */
  int64_t now_real_ms;    /* the real wall clock, for signatures and the Date header */
  /* PNGS[i] (PNG_LENS[i] bytes) is the trend graph of alert i, NULL when it has none; N_PNGS
   * entries, 0 when the notifier asked for no graph or the payload has no alerts. */
  const unsigned char *const *pngs;
  const size_t *png_lens;
  size_t n_pngs;
  /* The briefing's HTML file, read for a notifier that wants it (NULL when unreadable). */
  const char *briefing_html;
  /* The briefing's Word document (BRIEFING_DOCX_LEN bytes), read with the HTML; NULL when
   * there is none. */
  const char *briefing_docx;
  size_t briefing_docx_len;
};

/* One request of a message: an HTTP POST, or (CUSTOMIZE set) an SMTP transfer. */
struct pw_notify_transfer {
  char *url;  /* owned */
  char *body; /* owned, NULL for none */
  size_t body_len;
  char *headers[2]; /* owned "Name: value" lines */
  size_t n_headers;
  /* pw_fetch's customize hook and its argument (owned by the message's STATE). */
  int (*customize)(void *easy, void *arg);
  void *customize_arg;
};

/* A built message: its transfers, sent one after another in this order (the first failure ends
 * the attempt, and a retry sends them all again). N 0 means the notifier delivered the message
 * itself (the log receiver). */
struct pw_notify_message {
  struct pw_notify_transfer *transfers; /* owned */
  size_t n;
  void *state;                  /* the notifier's own (an email), released by RELEASE */
  void (*release)(void *state); /* NULL when STATE is NULL */
};

struct pw_notifier {
  enum pw_receiver_type type;
  enum pw_notify_graphs graphs;
  int wants_briefing_html; /* a briefing is sent from its HTML file (email) */
  int per_second;          /* requests a second it may send, 0 for no limit of its own */
  /* The requests PAYLOAD costs against the receiver's rate_per_minute (a WeCom alert message
   * with its graph is two). */
  int (*cost)(const json_t *payload);
  /* Builds the message of IN into *OUT (zeroed first). Returns 0, or -EPERM (it can never be
   * sent: bad addresses, a payload that cannot be rendered) or -EAGAIN (try again later: out of
   * memory, the briefing unreadable), with the reason in ERR. */
  int (*build)(const struct pw_notify_input *in, struct pw_notify_message *out, char *err,
               size_t errlen);
  /* Judges one transfer's outcome for receiver R: RC and ERROR as pw_fetch reported them (ERROR
   * may be NULL), STATUS the HTTP or SMTP code (0 when none), BODY the answer (may be NULL).
   * Returns 0 (delivered), -EAGAIN (retry later) or -EPERM (never), with the reason in ERR. */
  int (*judge)(const struct pw_receiver *r, int rc, long status, const char *body,
               const char *error, char *err, size_t errlen);
};

/* The notifier of receiver type TYPE (never NULL for a valid type). Any thread. */
const struct pw_notifier *pw_notifier_for(enum pw_receiver_type type);

/* Appends a transfer to M: URL and BODY (LEN bytes, may be NULL) are copied, H1 and H2 (may be
 * NULL) become its header lines. Returns 0 or -ENOMEM (M unchanged). */
int pw_notify_add_transfer(struct pw_notify_message *m, const char *url, const char *body,
                           size_t len, const char *h1, const char *h2);

/* Frees what M owns and zeroes it. Accepts NULL and a zeroed message. */
void pw_notify_message_free(struct pw_notify_message *m);

/* The notifiers of each type (notify_webhook.c, notify_log.c, notify_robot.c, notify_email.c). */
extern const struct pw_notifier pw_notifier_webhook, pw_notifier_log, pw_notifier_dingtalk,
    pw_notifier_wecom, pw_notifier_feishu, pw_notifier_email;

/* The subject (email) or title (robots) of briefing B (docs/briefing.md, the spooled payload):
 * "TITLE（2024年4月22日—28日）", the period in words, else WEEK. Returns BUF. */
char *pw_notify_briefing_subject(const json_t *b, const char *title, const char *week, char *buf,
                                 size_t size);

#endif
