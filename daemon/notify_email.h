/*
 * notify_email: a notification as an email (CONTRACT section 6): a UTF-8 subject encoded per
 * RFC 2047, a plain-text and an HTML part (quoted-printable), each alert's trend graph inline
 * (multipart/related, cid:), Date and Message-ID, sent through libcurl's SMTP on the daemon's
 * one multi handle (pw_fetch's customize hook).
 */
#ifndef PW_NOTIFY_EMAIL_H
#define PW_NOTIFY_EMAIL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct pw_email;

/* Builds the message for receiver R from PAYLOAD (the webhook body shape). PNGS[i] (may be
 * NULL, or an entry NULL) is the trend graph of alert i. NOW_REAL is the real clock for the
 * Date header. Returns 0 and *OUT (owned; free with pw_email_free after the transfer), or a
 * negative errno with ERR. */
int pw_email_build(const struct pw_receiver *r, const json_t *payload,
                   const unsigned char *const *pngs, const size_t *png_lens, int64_t now_real,
                   struct pw_email **out, char *err, size_t errlen);

/* pw_fetch's customize callback: applies EMAIL to the CURL easy handle EASY. */
void pw_email_customize(void *easy, void *email);

/* The subject as encoded for the header (for tests). */
const char *pw_email_subject_header(const struct pw_email *m);

void pw_email_free(struct pw_email *m);

/* Encodes UTF-8 TEXT per RFC 2047 as =?UTF-8?B?...?= words of at most 45 input bytes, cut on
 * character boundaries and folded with CRLF SP. Returns owned memory or NULL. */
char *pw_email_encode_header(const char *text);

#endif
