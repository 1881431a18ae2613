/*
 * notify_robot: the messages of the DingTalk, WeCom and Feishu group robots (docs/alerts.md) built
 * from a notification (the docs/alerts.md webhook body), with their signatures, and the
 * judgement of a robot's reply. Pure: no I/O and no clock; the caller passes the real clock for
 * signatures, so the same notification always renders the same text.
 */
#ifndef PW_NOTIFY_ROBOT_H
#define PW_NOTIFY_ROBOT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "util.h"

/* Size limits of the robots (docs/alerts.md). */
#define PW_ROBOT_DINGTALK_MAX 20000      /* whole request body */
#define PW_ROBOT_WECOM_MARKDOWN_MAX 4096 /* markdown content */
#define PW_ROBOT_WECOM_TEXT_MAX 2048     /* text content */
#define PW_ROBOT_WECOM_IMAGE_MAX 2097152 /* raw image bytes, before base64 */
#define PW_ROBOT_FEISHU_MAX 20480        /* whole request body */

struct pw_robot_request {
  char *url;  /* owned */
  char *body; /* owned, JSON */
  size_t body_len;
};

/* Renders PAYLOAD (borrowed; shaped like docs/alerts.md's webhook body) for receiver R
 * (borrowed; dingtalk, wecom or feishu) at NOW_MS (real wall clock in ms, used only for
 * signatures) into one or more requests, in sending order, split so that each stays within the
 * robot's size limit. PNG (borrowed, may be NULL) is the trend graph of the first alert: WeCom
 * sends it as an extra image message after the first markdown one when PNG_LEN <= 2 MB; the
 * other robots cannot carry image bytes and ignore it. PUBLIC_URL (may be NULL) adds a link.
 * Returns 0 with *OUT (owned; free with pw_robot_requests_free) and *N, or -EINVAL / -ENOMEM
 * with ERR (then *OUT is NULL and *N 0). Any thread. */
int pw_robot_render_graph(const struct pw_receiver *r, const json_t *payload, int64_t now_ms,
                          const unsigned char *png, size_t png_len, const char *public_url,
                          struct pw_robot_request **out, size_t *n, char *err, size_t errlen);

/* pw_robot_render_graph without a graph (the form alerting.c calls). */
int pw_robot_render(const struct pw_receiver *r, const json_t *payload, int64_t now_ms,
                    const char *public_url, struct pw_robot_request **out, size_t *n, char *err,
                    size_t errlen);

/* One message of free TEXT (markdown) under TITLE for robot R, cut to the robot's size limit on
 * a character boundary (the weekly briefing). Same ownership and returns as pw_robot_render. */
int pw_robot_render_text(const struct pw_receiver *r, const char *title, const char *text,
                         int64_t now_ms, struct pw_robot_request **out, size_t *n, char *err,
                         size_t errlen);

/* Frees N requests and the array. Accepts NULL. */
void pw_robot_requests_free(struct pw_robot_request *reqs, size_t n);

/* Judges a reply (BODY borrowed, may be NULL): 0 delivered; -EAGAIN worth retrying (no answer,
 * 5xx, 429, rate limits such as DingTalk 130101 or Feishu 11232, a body that is not JSON);
 * -EPERM a refusal that can never succeed (DingTalk 310000 signature / keyword / IP and 300001
 * token, Feishu 19001 / 19021 / 19022 / 19024 / 9499, WeCom 93000-93999 invalid key or URL,
 * HTTP 4xx other than 429). ERR says what the robot said. Any thread. */
int pw_robot_reply(const struct pw_receiver *r, long http_status, const char *body, char *err,
                   size_t errlen);

/* DingTalk: url-escaped base64(HMAC-SHA256(key = secret, msg = ts_ms "\n" secret)) into OUT
 * (at least 80 bytes). Returns 0, -EINVAL or -ENOMEM. */
int pw_robot_sign_dingtalk(const char *secret, int64_t ts_ms, char *out, size_t outlen);

/* Feishu: base64(HMAC-SHA256(key = ts_s "\n" secret, msg = "")) into OUT (at least 45 bytes).
 * Returns 0 or -EINVAL. */
int pw_robot_sign_feishu(const char *secret, int64_t ts_s, char *out, size_t outlen);

/* One alert (borrowed) as a line of Chinese text ("【滞后】name（department）：……") into BUF,
 * always valid UTF-8 (truncated on a character boundary). Stale ages are counted to the
 * alert's `since`; pw_robot_render counts them to the payload's `sent_at` instead. */
void pw_robot_alert_line(const json_t *alert, char *buf, size_t size);

/* The order the alerts of ALERTS are shown in (docs/alerts.md): severe, lagging, stale data,
 * failing sources, dead letters, then resolutions, stable within each. Returns an array of
 * json_array_size(ALERTS) indices (free it), or NULL when out of memory. */
size_t *pw_robot_order(const json_t *alerts);

/* "联系人：张三 @13800000000、李四 @13900000000" for an alert's `contacts` as robot type T writes
 * them (DingTalk "@mobile", the others "张三（mobile）"), appended to OUT; nothing without
 * contacts. Returns 0 or -ENOMEM. */
int pw_robot_alert_contacts(const json_t *alert, enum pw_receiver_type t, struct pw_buf *out);

#endif
