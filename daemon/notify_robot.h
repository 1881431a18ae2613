/*
 * notify_robot: the messages of the DingTalk, WeCom and Feishu group robots (ROBOTS.md) built
 * from a notification (the CONTRACT section 6 webhook body), with their signatures, and the
 * judgement of a robot's reply. Pure: no I/O; the caller passes the real clock for signatures.
 */
#ifndef PW_NOTIFY_ROBOT_H
#define PW_NOTIFY_ROBOT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct pw_robot_request {
  char *url;  /* owned */
  char *body; /* owned, JSON */
  size_t body_len;
};

/* Renders PAYLOAD for receiver R (dingtalk, wecom or feishu) at NOW_MS (real clock, for
 * signatures) into one or more requests, split so that each stays within the robot's size
 * limit. Returns 0 with *OUT (free with pw_robot_requests_free) and *N, or -EINVAL with ERR. */
int pw_robot_render(const struct pw_receiver *r, const json_t *payload, int64_t now_ms,
                    const char *public_url, struct pw_robot_request **out, size_t *n, char *err,
                    size_t errlen);
void pw_robot_requests_free(struct pw_robot_request *reqs, size_t n);

/* Judges a reply: 0 delivered; -EAGAIN worth retrying (5xx, 429, rate limits, a body that is
 * not JSON); -EPERM a refusal that can never succeed (signature, keyword or IP refusals, other
 * 4xx). ERR says what the robot said. */
int pw_robot_reply(const struct pw_receiver *r, long http_status, const char *body, char *err,
                   size_t errlen);

/* DingTalk: url-escaped base64(HMAC-SHA256(key = secret, msg = ts_ms "\n" secret)). */
int pw_robot_sign_dingtalk(const char *secret, int64_t ts_ms, char *out, size_t outlen);

/* Feishu: base64(HMAC-SHA256(key = ts_s "\n" secret, msg = "")). */
int pw_robot_sign_feishu(const char *secret, int64_t ts_s, char *out, size_t outlen);

/* One alert as a line of Chinese text ("【滞后】name（department）：……"). */
void pw_robot_alert_line(const json_t *alert, char *buf, size_t size);

#endif
