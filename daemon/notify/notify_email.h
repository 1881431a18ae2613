/*
 * notify_email: a notification as an email (docs/alerts.md): a UTF-8 subject encoded per
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

/* Builds the message for receiver R (borrowed) from PAYLOAD (borrowed; the webhook body shape).
 * PNGS[i] / PNG_LENS[i] (may be NULL, or an entry NULL; copied) is the trend graph of alert i,
 * with one entry per alert of the payload,
 * inline as Content-ID <alert-i@pacewatch>. NOW_REAL (epoch seconds, real clock) dates the
 * message in the process time zone. Returns 0 and *OUT (owned; free with pw_email_free after the
 * transfer), or a negative errno with ERR. */
int pw_email_build(const struct pw_receiver *r, const json_t *payload,
                   const unsigned char *const *pngs, const size_t *png_lens, int64_t now_real,
                   struct pw_email **out, char *err, size_t errlen);

/* A message of free TEXT and HTML under SUBJECT (the weekly briefing), same ownership and
 * returns as pw_email_build. Every data: URI image of HTML becomes an inline part referred to
 * as cid:graph-i@pacewatch (at most 100 % wide); ATTACH (ATTACH_LEN bytes, copied; NULL for
 * none) is attached as the Word document ATTACH_NAME. */
int pw_email_build_text(const struct pw_receiver *r, const char *subject, const char *text,
                        const char *html, const char *attach_name, const char *attach,
                        size_t attach_len, int64_t now_real, struct pw_email **out, char *err,
                        size_t errlen);

/* pw_fetch's customize callback: applies EMAIL (borrowed; must live until the transfer's done
 * callback) to the CURL easy handle EASY: MAIL FROM, RCPT TO, the MIME tree, the headers,
 * STARTTLS when offered, and the receiver's login. It reads the receiver given to
 * pw_email_build, which must still exist (pw_fetch_start calls this before it returns).
 * Returns 0, or -ENOMEM (-EINVAL for an option curl refuses): the transfer is then not
 * started. */
int pw_email_customize(void *easy, void *email);

/* The subject as encoded for the header (for tests). */
const char *pw_email_subject_header(const struct pw_email *m);

void pw_email_free(struct pw_email *m);

/* Encodes UTF-8 TEXT per RFC 2047 as =?UTF-8?B?...?= words of at most 45 input bytes, cut on
 * character boundaries and folded with CRLF SP. Returns owned memory or NULL. */
char *pw_email_encode_header(const char *text);

#endif
