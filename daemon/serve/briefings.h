/*
 * briefings: the status server's /briefings/ (docs/http.md): the list of the weekly briefings
 * in state_dir/briefings (newest first) and each week's files. Names are validated strictly
 * (nothing in a request can name another file), symbolic links are never followed, and only
 * regular files are read. Everything here blocks (directory listing, file reads): the server
 * calls it on libuv's thread pool.
 */
#ifndef PW_BRIEFINGS_H
#define PW_BRIEFINGS_H

#include <stddef.h>

enum pw_briefings_kind {
  PW_BRIEFINGS_NONE = -1, /* not a name we serve */
  PW_BRIEFINGS_LIST = 0,  /* "" or "index.html": the list */
  PW_BRIEFINGS_HTML,      /* "2024-W18.html" */
  PW_BRIEFINGS_DOCX,      /* "2024-W18.docx" */
  PW_BRIEFINGS_MD,        /* "2024-W18.md" */
  PW_BRIEFINGS_PNG        /* "2024-W18-<indicator id>.png", the graphs the Markdown shows */
};

/* What NAME (the path after "/briefings/") asks for. Pure. */
enum pw_briefings_kind pw_briefings_kind(const char *name);

/* The answer to a request. */
struct pw_briefings_answer {
  int status;       /* 200, 404, 500 */
  const char *type; /* the Content-Type */
  char extra[256];  /* extra header lines ("Content-Disposition: ...\r\n"), or "" */
  char *body;       /* owned (free()); NULL with LEN 0 for none */
  size_t len;
};

/* Answers NAME from the directory DIR (state_dir/briefings): the list page (Chinese, escaped)
 * or the file. Fills *A; never fails otherwise (an answer of status 404 or 500 carries a
 * text). Blocking. */
void pw_briefings_answer(const char *dir, const char *name, struct pw_briefings_answer *a);

#endif
