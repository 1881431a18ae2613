/*
 * report_page: the department reporting page of docs/http.md ("Reporting page"), in Chinese and
 * phone-first. GET /report/<department> is a shell without any of the department's data (a
 * browser following the link cannot send a header): its one inline script takes the token from
 * the address's fragment ("#t=…"), keeps it in sessionStorage, removes it from the address, and
 * fetches the department's part (/report/<department>/view, an HTML fragment built here) with
 * the token in X-Pacewatch-Token; each indicator's form is posted the same way. The script is
 * allowed by its SHA-256 in the page's Content-Security-Policy, and so is the upload's
 * (report_upload.h), whose part the shell holds; nothing else may run.
 *
 * Each indicator is a <section class="ind" id="ind-<id>"> holding its figure, its status, what
 * is due now, then its parts: the form of a figure (<form class="part fill">), and for an
 * indicator that lags, is overdue or has a current explanation the form of an explanation
 * (<form class="part explain">: 原因, 措施, 预计追平日期, prefilled with the current one, which
 * is shown above it in the shared wording). Pure functions of the view; loop
 * thread (the CSP is computed once).
 */
#ifndef PW_REPORT_PAGE_H
#define PW_REPORT_PAGE_H

#include "metrics.h"

/* The extra response headers of the shell: Content-Security-Policy (with the script's hash),
 * Referrer-Policy and X-Frame-Options, each ended by CRLF. */
const char *pw_report_page_headers(void);

/* Appends the shell of department DEPT (an index into conf->departments) to OUT. Returns 0 or
 * -ENOMEM. */
int pw_report_page_shell(struct pw_buf *out, const struct pw_config *conf, int dept);

/* Appends the department's part for VIEW: each of its indicators (in configuration order) with
 * the latest figure in words, its date and status, what is due now, and its form (as-of
 * defaulting to the last day of the month before VIEW->now). Returns 0 or -ENOMEM. */
int pw_report_page_view(struct pw_buf *out, const struct pw_view *view, int dept);

/* The answer to a stored figure, in words, appended to OUT: "已保存。现为“滞后”：<the report's
 * sentence>" for indicator IND judged as V at NOW, SERIES its journal series (the latest sample
 * and its note). Returns 0 or -ENOMEM. */
int pw_report_page_saved(struct pw_buf *out, const struct pw_config *conf, int ind,
                         const struct pw_verdict *v, const struct pw_series *series, int64_t now);

/* The answer to a stored explanation, appended to OUT: "已保存。" and the indicator's current
 * explanation in the shared wording (pw_report_explanation), IND judged as V at NOW, SERIES its
 * journal series. Returns 0 or -ENOMEM. */
int pw_report_page_explained(struct pw_buf *out, const struct pw_config *conf, int ind,
                             const struct pw_verdict *v, const struct pw_series *series,
                             int64_t now);

#endif
