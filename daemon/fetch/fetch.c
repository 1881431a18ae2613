/*
 * fetch: every transfer of the daemon (source polls, webhooks, mail) runs on one libcurl multi
 * handle per pw_fetch, driven by the libuv loop in curl's multi-uv pattern (docs/libraries.md,
 * docs/architecture.md): curl tells us which sockets to watch and when to wake it,
 * libuv watches them, and finished transfers are handed to their done callbacks only after
 * curl has let go of them. On top of that this module caps the transfers in flight, enforces
 * the body limit also for chunked answers (curl 7.88 does not), turns HTTP statuses and curl
 * errors into negative errno values with human text, and converts bodies to UTF-8.
 */
#include "fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <iconv.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util.h"

/* Defaults of docs/configuration.md, used when a request leaves the field zero. */
#define FETCH_DEFAULT_TIMEOUT_MS 20000
#define FETCH_DEFAULT_MAX_BYTES (10 * 1024 * 1024)
/* Validators longer than these are not stored: a truncated ETag would be a wrong one. */
#define FETCH_ETAG_MAX 512
#define FETCH_DATE_MAX 128
#define FETCH_ERROR_MAX (CURL_ERROR_SIZE + 256)
/* Easy handles kept for reuse: each holds curl's buffers (about 18 KB), and polls spread over
 * their interval rarely have more than a few transfers in flight. */
#define FETCH_SPARE_EASY 16

struct pw_fetch_job {
  struct pw_fetch *f;
  struct pw_fetch_job *prev, *next; /* in f->queue or f->running */
  CURL *easy;
  struct curl_slist *headers;
  char *post_body; /* our copy: curl's POSTFIELDS only points at it */
  char *charset;   /* NULL when the body is used as it comes */
  pw_fetch_done_cb done;
  void *data;
  int64_t timeout_ms;
  size_t max_bytes;
  uint64_t start_ns;
  struct pw_buf body;
  int too_big;      /* the write callback refused bytes past max_bytes */
  int no_mem;       /* the write callback could not grow the body */
  int http_error;   /* finished with a status that is neither 2xx nor 304 */
  int smtp;         /* a customized (SMTP) transfer: status is an SMTP reply code */
  int no_redirects; /* a 3xx answer is the outcome (its Location named in the error) */
  char etag[FETCH_ETAG_MAX];
  char last_modified[FETCH_DATE_MAX];
  char curl_error[CURL_ERROR_SIZE]; /* CURLOPT_ERRORBUFFER */
  char error[FETCH_ERROR_MAX];
};

struct job_list {
  struct pw_fetch_job *head, *tail;
  size_t n;
};

/* One per socket curl asks us to watch; owned by the loop until its close callback. A
 * connection's socket is kept ("parked") while curl holds the idle connection in its cache, so
 * reusing the connection costs no new poll handle (docs/libraries.md, "Sockets"). */
struct fetch_sock {
  uv_poll_t poll;
  curl_socket_t fd;
  int events; /* what curl asked to watch: UV_READABLE | UV_WRITABLE */
  int parked; /* curl let go of the socket but not of its connection */
  struct pw_fetch *f;
  struct fetch_sock *prev, *next;
};

/* What fetch knows of one descriptor number: whether curl made it for a connection (and so
 * closes it through on_close_socket) and the poll handle kept for it. */
struct fd_slot {
  struct fetch_sock *s;
  unsigned char cxn;
};

struct pw_fetch {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  int max_in_flight;
  char *user_agent;
  struct job_list queue;    /* waiting for a slot, oldest first */
  struct job_list running;  /* added to the multi handle */
  struct fetch_sock *socks; /* every poll handle not yet through its close callback */
  struct fd_slot *fds;      /* indexed by descriptor: curl's connection sockets */
  int n_fds;
  int open_handles; /* the timer and the poll handles still to be closed */
  int closing;
  void (*closed)(void *data);
  void *closed_data;
  /* Finished jobs and easy handles kept for the next transfers (at most max_in_flight each):
   * a province polls hundreds of sources a second, and each new easy handle and job was a few
   * kilobytes of allocation and set-up. A reset easy handle keeps nothing of its last transfer
   * but the caches curl_easy_reset documents (DNS, TLS sessions). */
  struct pw_fetch_job *spare_jobs; /* linked through next */
  CURL **spare_easy;
  int n_spare_jobs, n_spare_easy;
};

static void list_push(struct job_list *l, struct pw_fetch_job *j) {
  j->next = NULL;
  j->prev = l->tail;
  if (l->tail != NULL)
    l->tail->next = j;
  else
    l->head = j;
  l->tail = j;
  l->n++;
}

static void list_unlink(struct job_list *l, struct pw_fetch_job *j) {
  if (j->prev != NULL)
    j->prev->next = j->next;
  else
    l->head = j->next;
  if (j->next != NULL)
    j->next->prev = j->prev;
  else
    l->tail = j->prev;
  j->prev = j->next = NULL;
  l->n--;
}

static void job_free(struct pw_fetch_job *j) {
  struct pw_fetch *f;

  if (j == NULL)
    return;
  f = j->f;
  if (j->easy != NULL)
    curl_easy_cleanup(j->easy);
  curl_slist_free_all(j->headers);
  free(j->post_body);
  free(j->charset);
  if (f != NULL && !f->closing && f->n_spare_jobs < f->max_in_flight) {
    /* Kept with its body buffer; job_new clears the rest. */
    j->easy = NULL;
    j->next = f->spare_jobs;
    f->spare_jobs = j;
    f->n_spare_jobs++;
    return;
  }
  pw_buf_free(&j->body);
  free(j);
}

/* Returns a cleared job (a spare one when there is one), or NULL. */
static struct pw_fetch_job *job_new(struct pw_fetch *f) {
  struct pw_fetch_job *j = f->spare_jobs;
  struct pw_buf body;

  if (j == NULL)
    return calloc(1, sizeof(*j));
  f->spare_jobs = j->next;
  f->n_spare_jobs--;
  body = j->body;
  memset(j, 0, offsetof(struct pw_fetch_job, etag));
  j->etag[0] = j->last_modified[0] = j->curl_error[0] = j->error[0] = '\0';
  j->body = body;
  j->body.len = 0;
  if (j->body.data != NULL)
    j->body.data[0] = '\0';
  return j;
}

/* Gives J's easy handle back for reuse, or cleans it up. */
static void easy_release(struct pw_fetch *f, struct pw_fetch_job *j) {
  if (j->easy == NULL)
    return;
  if (!f->closing && f->spare_easy != NULL && f->n_spare_easy < FETCH_SPARE_EASY &&
      f->n_spare_easy < f->max_in_flight) {
    curl_easy_reset(j->easy);
    f->spare_easy[f->n_spare_easy++] = j->easy;
  } else {
    curl_easy_cleanup(j->easy);
  }
  j->easy = NULL;
}

static void spares_free(struct pw_fetch *f) {
  while (f->spare_jobs != NULL) {
    struct pw_fetch_job *j = f->spare_jobs;
    f->spare_jobs = j->next;
    pw_buf_free(&j->body);
    free(j);
  }
  f->n_spare_jobs = 0;
  while (f->n_spare_easy > 0)
    curl_easy_cleanup(f->spare_easy[--f->n_spare_easy]);
  free(f->spare_easy);
  f->spare_easy = NULL;
}

/* ---- libuv glue ------------------------------------------------------------------------ */

static void check_multi_info(struct pw_fetch *f);

static void maybe_closed(struct pw_fetch *f) {
  if (!f->closing || f->open_handles > 0)
    return;
  if (f->closed != NULL)
    f->closed(f->closed_data);
  free(f->fds);
  free(f->user_agent);
  free(f);
}

static void on_sock_closed(uv_handle_t *h) {
  struct fetch_sock *s = h->data;
  struct pw_fetch *f = s->f;

  if (s->prev != NULL)
    s->prev->next = s->next;
  else
    f->socks = s->next;
  if (s->next != NULL)
    s->next->prev = s->prev;
  free(s);
  f->open_handles--;
  maybe_closed(f);
}

static void on_timer_closed(uv_handle_t *h) {
  struct pw_fetch *f = h->data;

  f->open_handles--;
  maybe_closed(f);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  struct fetch_sock *s = h->data;
  struct pw_fetch *f = s->f;
  int flags = 0;
  int running;

  if (f->closing)
    return;
  /* An idle connection in curl's cache became readable: the server closed it (or sent what it
   * should not). Nobody waits on it; stop watching until curl either reuses the connection
   * (and finds it dead) or closes it. */
  if (s->parked) {
    if (uv_is_active((uv_handle_t *)&s->poll))
      uv_poll_stop(&s->poll);
    return;
  }
  /* A poll error (the peer reset the connection) must still reach curl, or the transfer would
   * wait for its timeout. Told the socket is ready for what it was waiting for, curl reads or
   * writes it and meets the socket's own error ("Connection reset by peer"); told
   * CURL_CSELECT_ERR, it only says "Failed sending data to the peer: select/poll returned
   * error", whatever happened. libuv stops a poll handle that reports an error, so it is
   * started again if curl still wants the socket watched. */
  if (status < 0)
    events = s->events;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  curl_multi_socket_action(f->multi, s->fd, flags, &running);
  if (status < 0 && !f->closing && !uv_is_closing((uv_handle_t *)&s->poll) &&
      !uv_is_active((uv_handle_t *)&s->poll) && s->events != 0 &&
      uv_poll_start(&s->poll, s->events, on_poll) != 0)
    curl_multi_socket_action(f->multi, s->fd, CURL_CSELECT_ERR, &running);
  check_multi_info(f);
}

static void on_uv_timer(uv_timer_t *t) {
  struct pw_fetch *f = t->data;
  int running;

  if (f->closing)
    return;
  curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_multi_info(f);
}

/* CURLMOPT_TIMERFUNCTION. It may be called from inside curl_multi_socket_action and
 * curl_multi_add_handle, where calling back into curl is CURLM_RECURSIVE_API_CALL: only arm
 * the libuv timer here; on_uv_timer does the work from the loop. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp) {
  struct pw_fetch *f = userp;

  (void)multi;
  if (f->closing)
    return 0;
  if (timeout_ms < 0)
    return uv_timer_stop(&f->timer) == 0 ? 0 : -1;
  /* 0 ms is frequent (a new transfer, a finished resolve). A 0 ms timer armed from within
   * on_uv_timer would be due again in the same pass over the timers, so curl could keep the
   * loop in that pass without ever polling sockets; 1 ms lets the loop poll first. */
  if (timeout_ms == 0)
    timeout_ms = 1;
  return uv_timer_start(&f->timer, on_uv_timer, (uint64_t)timeout_ms, 0) == 0 ? 0 : -1;
}

/* The slot of descriptor FD, growing the table to hold it; NULL when FD is out of range or
 * memory is short (the socket is then handled without parking). */
static struct fd_slot *fd_slot(struct pw_fetch *f, curl_socket_t fd, int grow) {
  if (fd < 0)
    return NULL;
  if (fd >= f->n_fds) {
    struct fd_slot *t;
    int n = f->n_fds > 0 ? f->n_fds : 64;

    if (!grow)
      return NULL;
    while (n <= fd && n < (1 << 24))
      n *= 2;
    if (n <= fd)
      return NULL;
    t = realloc(f->fds, (size_t)n * sizeof(*t));
    if (t == NULL)
      return NULL;
    memset(t + f->n_fds, 0, (size_t)(n - f->n_fds) * sizeof(*t));
    f->fds = t;
    f->n_fds = n;
  }
  return &f->fds[fd];
}

static void sock_close(struct fetch_sock *s) {
  struct pw_fetch *f = s->f;
  struct fd_slot *slot = fd_slot(f, s->fd, 0);

  if (slot != NULL && slot->s == s)
    slot->s = NULL;
  /* uv_close stops the poll itself (one EPOLL_CTL_DEL; a uv_poll_stop first was a second). */
  if (!uv_is_closing((uv_handle_t *)&s->poll))
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

/* CURLOPT_SOCKOPTFUNCTION: marks the sockets curl makes for connections. Those, and only those,
 * curl closes through on_close_socket, so only their poll handles may outlive a
 * CURL_POLL_REMOVE (another socket's number could be closed and reused behind our back). */
static int on_sockopt(void *clientp, curl_socket_t fd, curlsocktype purpose) {
  struct fd_slot *slot;

  if (purpose == CURLSOCKTYPE_IPCXN && (slot = fd_slot(clientp, fd, 1)) != NULL)
    slot->cxn = 1;
  return CURL_SOCKOPT_OK;
}

/* CURLOPT_CLOSESOCKETFUNCTION: curl closes a connection's socket. Its poll handle (parked or
 * not) is closed first, while the descriptor is still open. */
static int on_close_socket(void *clientp, curl_socket_t fd) {
  struct fd_slot *slot = fd_slot(clientp, fd, 0);

  if (slot != NULL) {
    if (slot->s != NULL)
      sock_close(slot->s);
    slot->cxn = 0;
  }
  return close(fd);
}

/* CURLMOPT_SOCKETFUNCTION: one uv_poll_t per socket, made on first use and remembered with
 * curl_multi_assign. When curl drops a socket, a connection's is parked (still watched for
 * reading, so an idle connection costs no system call; on_poll stops it if the server closes
 * it) until curl reuses or closes the connection; any other is closed, and freed in its close
 * callback. libuv's uv_poll_start always removes the descriptor from epoll and adds it again,
 * so a parked handle asked for what it already watches is left as it is. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
  struct pw_fetch *f = userp;
  struct fetch_sock *s = socketp;
  struct fd_slot *slot;
  int events = 0;

  (void)easy;
  if (what == CURL_POLL_REMOVE) {
    if (s != NULL) {
      curl_multi_assign(f->multi, fd, NULL);
      slot = fd_slot(f, fd, 0);
      if (!f->closing && slot != NULL && slot->cxn && slot->s == s && s->events == UV_READABLE) {
        s->parked = 1;
        uv_unref((uv_handle_t *)&s->poll);
      } else {
        sock_close(s);
      }
    }
    return 0;
  }
  if (f->closing)
    return 0;
  slot = fd_slot(f, fd, 0);
  if (s == NULL && slot != NULL && slot->s != NULL && slot->s->parked) {
    s = slot->s;
    s->parked = 0;
    uv_ref((uv_handle_t *)&s->poll);
    curl_multi_assign(f->multi, fd, s);
  }
  if (s == NULL) {
    s = calloc(1, sizeof(*s));
    if (s == NULL)
      return -1;
    /* An fd whose old handle is closing (not yet called back) can be watched again at once
     * (docs/libraries.md), so reused descriptors need no special case. */
    if (uv_poll_init_socket(f->loop, &s->poll, fd) != 0) {
      free(s);
      return -1;
    }
    s->fd = fd;
    s->f = f;
    s->poll.data = s;
    s->next = f->socks;
    if (f->socks != NULL)
      f->socks->prev = s;
    f->socks = s;
    f->open_handles++;
    curl_multi_assign(f->multi, fd, s);
    if (slot != NULL && slot->cxn)
      slot->s = s;
  }
  if (what & CURL_POLL_IN)
    events |= UV_READABLE;
  if (what & CURL_POLL_OUT)
    events |= UV_WRITABLE;
  if (events == s->events && uv_is_active((uv_handle_t *)&s->poll))
    return 0;
  s->events = events;
  return uv_poll_start(&s->poll, events, on_poll) == 0 ? 0 : -1;
}

/* ---- per-transfer callbacks ------------------------------------------------------------ */

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
  struct pw_fetch_job *j = userdata;
  size_t n = size * nmemb;
  int rc;

  /* Counting here is what enforces max_bytes on chunked answers, which CURLOPT_MAXFILESIZE
   * ignores in 7.88; returning less than N makes curl end the transfer (CURLE_WRITE_ERROR). */
  if (n > j->max_bytes - j->body.len) {
    j->too_big = 1;
    return 0;
  }
  rc = pw_buf_append(&j->body, ptr, n);
  if (rc < 0) {
    j->no_mem = 1;
    return 0;
  }
  return n;
}

/* Stores the value of header line LINE (LEN bytes, NAME_LEN of them "Name:") into DST, or
 * clears DST when the value does not fit. */
static void keep_header_value(const char *line, size_t len, size_t name_len, char *dst,
                              size_t dst_size) {
  const char *v = line + name_len;
  const char *end = line + len;

  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
    end--;
  if ((size_t)(end - v) >= dst_size) {
    dst[0] = '\0';
    return;
  }
  memcpy(dst, v, (size_t)(end - v));
  dst[end - v] = '\0';
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata) {
  struct pw_fetch_job *j = userdata;
  size_t len = size * nitems;

  /* Every hop of a redirect (and a 100 Continue) starts with its own status line: what the
   * previous answer said about its validators or body is not about the final one. */
  if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
    j->etag[0] = '\0';
    j->last_modified[0] = '\0';
    j->body.len = 0;
    if (j->body.data != NULL)
      j->body.data[0] = '\0';
  } else if (len > 5 && strncasecmp(buf, "ETag:", 5) == 0) {
    keep_header_value(buf, len, 5, j->etag, sizeof(j->etag));
  } else if (len > 14 && strncasecmp(buf, "Last-Modified:", 14) == 0) {
    keep_header_value(buf, len, 14, j->last_modified, sizeof(j->last_modified));
  }
  return len;
}

/* ---- results --------------------------------------------------------------------------- */

static int is_utf8_name(const char *cs) {
  return cs == NULL || cs[0] == '\0' || strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "UTF8") == 0;
}

/* Doubles the conversion buffer *BUF of *CAP bytes. */
static int grow_out(char **buf, size_t *cap) {
  char *nb = realloc(*buf, *cap * 2);

  if (nb == NULL)
    return -ENOMEM;
  *buf = nb;
  *cap *= 2;
  return 0;
}

/* Replaces the body with its UTF-8 conversion from J->charset. Returns 0 or -EPROTO/-ENOMEM
 * with J->error set. */
static int convert_body(struct pw_fetch_job *j) {
  iconv_t cd;
  char *in, *out, *buf;
  size_t in_left, out_left, cap, used = 0;
  int flushing = 0;
  int rc = 0;

  cd = iconv_open("UTF-8", j->charset);
  if (cd == (iconv_t)-1) {
    snprintf(j->error, sizeof(j->error), "unknown charset \"%s\"", j->charset);
    return -EPROTO;
  }
  /* Twice the input covers GBK and most legacy charsets; grow_out handles the rest. */
  cap = j->body.len * 2 + 16;
  buf = malloc(cap);
  if (buf == NULL) {
    iconv_close(cd);
    snprintf(j->error, sizeof(j->error), "out of memory converting from %s", j->charset);
    return -ENOMEM;
  }
  in = j->body.data;
  in_left = j->body.len;
  /* Input first; then a call without input, since stateful encodings (ISO-2022-*) may owe a
   * final shift sequence. The output position is kept as an offset so growing is safe. */
  for (;;) {
    size_t r;

    out = buf + used;
    out_left = cap - 1 - used; /* room for the terminating NUL */
    if (!flushing && in_left > 0)
      r = iconv(cd, &in, &in_left, &out, &out_left);
    else {
      flushing = 1;
      r = iconv(cd, NULL, NULL, &out, &out_left);
    }
    used = (size_t)(out - buf);
    if (r != (size_t)-1) {
      if (flushing)
        break;
      continue;
    }
    if (errno == E2BIG) {
      rc = grow_out(&buf, &cap);
      if (rc < 0) {
        snprintf(j->error, sizeof(j->error), "out of memory converting from %s", j->charset);
        break;
      }
      continue;
    }
    if (flushing)
      snprintf(j->error, sizeof(j->error), "cannot finish converting from %s", j->charset);
    else
      snprintf(j->error, sizeof(j->error), "%s %s byte sequence at byte offset %zu",
               errno == EINVAL ? "incomplete" : "invalid", j->charset, (size_t)(in - j->body.data));
    rc = -EPROTO;
    break;
  }
  iconv_close(cd);
  if (rc < 0) {
    free(buf);
    return rc;
  }
  buf[used] = '\0';
  pw_buf_free(&j->body);
  j->body.data = buf;
  j->body.len = used;
  j->body.cap = cap;
  return 0;
}

static int is_tls_error(CURLcode c) {
  switch (c) {
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_ENGINE_INITFAILED:
  case CURLE_USE_SSL_FAILED:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_SHUTDOWN_FAILED:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_CLIENTCERT:
    return 1;
  default:
    return 0;
  }
}

/* Removes from curl's message MSG what changes from one attempt to the next (" after 3 ms"),
 * so that the same failure reads the same every time: the schedule logs a failing source again
 * only when its error text changes (docs/configuration.md, sources). */
static void drop_elapsed(char *msg) {
  char *p = msg;

  while ((p = strstr(p, " after ")) != NULL) {
    size_t digits = strspn(p + 7, "0123456789");

    if (digits > 0 && strncmp(p + 7 + digits, " ms", 3) == 0)
      memmove(p, p + 7 + digits + 3, strlen(p + 7 + digits + 3) + 1);
    else
      p += 7;
  }
}

/* Rewrites MSG (a NUL-terminated buffer of SIZE bytes) so that no address in it shows a secret:
 * every word that reads as a URL or a user:password@host (it holds "://" or '@'; words end at
 * white space and at quotes, brackets and commas) goes through pw_redact_url. curl's own error
 * texts can name the proxy whole ("Unsupported proxy scheme for 'socks://user:pw@host'") or a
 * URL with its token in the query (docs/configuration.md). */
static void redact_words(char *msg, size_t size) {
  static const char stops[] = " \t\r\n'\"()<>[],";
  char out[FETCH_ERROR_MAX], word[FETCH_ERROR_MAX];
  size_t n = 0, in = 0, len = strlen(msg);

  while (in < len && n + 1 < sizeof(out)) {
    size_t w = strcspn(msg + in, stops), r;
    if (w == 0) {
      out[n++] = msg[in++];
      continue;
    }
    memcpy(word, msg + in, w);
    word[w] = '\0';
    in += w;
    if (strstr(word, "://") == NULL && strchr(word, '@') == NULL) {
      r = w < sizeof(out) - 1 - n ? w : sizeof(out) - 1 - n;
      memcpy(out + n, word, r);
      n += r;
      continue;
    }
    r = pw_redact_url(word, out + n, sizeof(out) - n);
    n = n + r < sizeof(out) ? n + r : sizeof(out) - 1;
  }
  out[n] = '\0';
  snprintf(msg, size, "%s", out);
}

/* Copies URL into OUT (SIZE bytes) fit for a message: without its query and fragment, where a
 * webhook keeps its token, and with a password in it hidden (pw_redact_url). */
static const char *url_for_message(const char *url, char *out, size_t size) {
  char cut[FETCH_ERROR_MAX];

  snprintf(cut, sizeof(cut), "%.*s", (int)strcspn(url, "?#"), url);
  pw_redact_url(cut, out, size);
  return out;
}

/* What a transfer that timed out was doing, in words that do not change between attempts
 * (curl's own message counts the milliseconds and the bytes received). */
static const char *timeout_phase(struct pw_fetch_job *j) {
  long sent = 0, status = 0;

  /* Not the connect time, which is 0 on a connection reused from the cache too. */
  if (curl_easy_getinfo(j->easy, CURLINFO_REQUEST_SIZE, &sent) == CURLE_OK && sent == 0)
    return "connecting";
  if (curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 0)
    return "waiting for the answer";
  return "receiving the body";
}

/* Fills J->error from a curl failure and returns the errno it stands for. */
static int map_curl_error(struct pw_fetch_job *j, CURLcode c) {
  const char *what = curl_easy_strerror(c);
  const char *detail = j->curl_error[0] != '\0' ? j->curl_error : what;

  drop_elapsed(j->curl_error);
  redact_words(j->curl_error, sizeof(j->curl_error));
  switch (c) {
  case CURLE_OPERATION_TIMEDOUT:
    snprintf(j->error, sizeof(j->error), "timeout after %lld ms (%s)", (long long)j->timeout_ms,
             timeout_phase(j));
    return -ETIMEDOUT;
  case CURLE_UNSUPPORTED_PROTOCOL: {
    /* After a refused redirect the effective URL is the one refused: name it, without the
     * query, where a webhook keeps its token. */
    char *url = NULL, shown[512];

    if (curl_easy_getinfo(j->easy, CURLINFO_EFFECTIVE_URL, &url) != CURLE_OK || url == NULL)
      url = "?";
    snprintf(j->error, sizeof(j->error), "protocol not allowed: %s (%s)",
             url_for_message(url, shown, sizeof(shown)), detail);
    return -EPROTO;
  }
  default:
    break;
  }
  if (strcmp(detail, what) == 0)
    snprintf(j->error, sizeof(j->error), "%s", what);
  else
    snprintf(j->error, sizeof(j->error), "%s: %s", what, detail);
  switch (c) {
  case CURLE_COULDNT_CONNECT:
    return -ECONNREFUSED;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
    return -EHOSTUNREACH;
  case CURLE_FILE_COULDNT_READ_FILE:
    return -ENOENT;
  case CURLE_OUT_OF_MEMORY:
    return -ENOMEM;
  default:
    return is_tls_error(c) ? -EPROTO : -EIO;
  }
}

/* Works out the outcome of finished transfer J (curl's code C, HTTP status STATUS). */
static int job_outcome(struct pw_fetch_job *j, CURLcode c, long status) {
  if (j->smtp) {
    if (c == CURLE_OK)
      return 0;
    map_curl_error(j, c);
    /* A 5xx reply (unknown recipient, relaying denied) will be the same next time. */
    return status >= 500 ? -EPERM : c == CURLE_COULDNT_CONNECT ? -ECONNREFUSED : -EIO;
  }
  int too_big = j->too_big || c == CURLE_FILESIZE_EXCEEDED;
  int http_error = status != 0 && status != 304 && (status < 200 || status > 299);

  if (c != CURLE_OK && !too_big && !(c == CURLE_WRITE_ERROR && j->no_mem))
    return map_curl_error(j, c);
  /* A server error is the more useful report even when its error page was also too big. */
  if (http_error) {
    j->http_error = !too_big && !j->no_mem;
    snprintf(j->error, sizeof(j->error), "HTTP %ld", status);
    if (j->no_redirects && status >= 300 && status <= 399) {
      /* Named without its query, where a webhook keeps its token. */
      char *loc = NULL, shown[512];
      if (curl_easy_getinfo(j->easy, CURLINFO_REDIRECT_URL, &loc) != CURLE_OK || loc == NULL)
        loc = "(no Location)";
      snprintf(j->error, sizeof(j->error), "HTTP %ld: redirect to %s not followed", status,
               url_for_message(loc, shown, sizeof(shown)));
    }
    return -EIO;
  }
  if (too_big) {
    snprintf(j->error, sizeof(j->error), "body larger than max_bytes (%zu)", j->max_bytes);
    return -E2BIG;
  }
  if (j->no_mem) {
    snprintf(j->error, sizeof(j->error), "out of memory for the body");
    return -ENOMEM;
  }
  if (status == 304)
    return 0;
  if (j->charset != NULL)
    return convert_body(j);
  return 0;
}

/* Hands the outcome to the job's owner, then frees the job. J is already out of every list
 * and its easy handle out of the multi handle, so DONE may start or close anything. */
static void job_report(struct pw_fetch_job *j, int rc, long status) {
  struct pw_fetch_result res;

  memset(&res, 0, sizeof(res));
  res.rc = rc;
  res.status = status;
  res.not_modified = rc == 0 && status == 304;
  /* An error page is worth having too (a webhook's 400 says what it disliked); other
   * failures have no complete body to give. */
  if ((rc == 0 && !res.not_modified) || j->http_error) {
    res.body = j->body.data != NULL ? j->body.data : "";
    res.body_len = j->body.len;
  } else {
    res.body = "";
    res.body_len = 0;
  }
  res.etag = j->etag[0] != '\0' ? j->etag : NULL;
  res.last_modified = j->last_modified[0] != '\0' ? j->last_modified : NULL;
  res.error = rc != 0 ? j->error : NULL;
  if (j->start_ns != 0)
    res.duration_ms = (double)(uv_hrtime() - j->start_ns) / 1e6;
  /* The easy handle goes before the callback: DONE may close the fetcher. */
  easy_release(j->f, j);
  j->done(j, &res, j->data);
  job_free(j);
}

static void job_cancel(struct pw_fetch_job *j) {
  snprintf(j->error, sizeof(j->error), "cancelled");
  job_report(j, -ECANCELED, 0);
}

/* Puts J on the multi handle. Returns 0 or a negative errno (J untouched then). */
static int job_run(struct pw_fetch *f, struct pw_fetch_job *j) {
  CURLMcode mc;

  j->start_ns = uv_hrtime();
  mc = curl_multi_add_handle(f->multi, j->easy);
  if (mc != CURLM_OK)
    return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO;
  list_push(&f->running, j);
  return 0;
}

/* Fills free slots from the queue, oldest first. */
static void start_queued(struct pw_fetch *f) {
  while (!f->closing && f->queue.head != NULL && f->running.n < (size_t)f->max_in_flight) {
    struct pw_fetch_job *j = f->queue.head;
    int rc;

    list_unlink(&f->queue, j);
    rc = job_run(f, j);
    if (rc < 0) {
      /* Its start already returned 0, so the owner must hear about it through DONE. */
      snprintf(j->error, sizeof(j->error), "could not start the transfer");
      j->start_ns = 0;
      job_report(j, rc, 0);
    }
  }
}

static void check_multi_info(struct pw_fetch *f) {
  CURLMsg *msg;
  int pending;

  while (!f->closing && (msg = curl_multi_info_read(f->multi, &pending)) != NULL) {
    struct pw_fetch_job *j;
    char *priv = NULL;
    CURL *easy;
    CURLcode c;
    long status = 0;
    int rc;

    if (msg->msg != CURLMSG_DONE)
      continue;
    /* MSG belongs to curl and is invalid after curl_multi_remove_handle: read it first. */
    easy = msg->easy_handle;
    c = msg->data.result;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    j = (struct pw_fetch_job *)priv;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(f->multi, easy);
    list_unlink(&f->running, j);
    rc = job_outcome(j, c, status);
    /* Refill the freed slot before DONE runs, so jobs DONE starts queue behind older ones. */
    start_queued(f);
    job_report(j, rc, status);
  }
}

/* ---- public ---------------------------------------------------------------------------- */

int pw_fetch_init(uv_loop_t *loop, int max_in_flight, const char *user_agent,
                  struct pw_fetch **out) {
  struct pw_fetch *f;
  CURLMcode mc = CURLM_OK;

  if (loop == NULL || out == NULL || max_in_flight < 1)
    return -EINVAL;
  /* Reference counted and thread-safe in 7.88; paired with curl_global_cleanup in close. */
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return -EIO;
  f = calloc(1, sizeof(*f));
  if (f == NULL)
    goto fail;
  f->loop = loop;
  f->max_in_flight = max_in_flight;
  f->spare_easy = calloc((size_t)max_in_flight, sizeof(*f->spare_easy));
  if (f->spare_easy == NULL)
    goto fail;
  if (user_agent != NULL) {
    f->user_agent = strdup(user_agent);
    if (f->user_agent == NULL)
      goto fail;
  }
  f->multi = curl_multi_init();
  if (f->multi == NULL)
    goto fail;
  mc = curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
  if (mc == CURLM_OK)
    mc = curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
  if (mc == CURLM_OK)
    mc = curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
  if (mc == CURLM_OK)
    mc = curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
  /* Keep idle connections for reuse. Without this the cache holds four per transfer in flight,
   * and polls spread over the interval have one or two in flight: nearly every poll of a
   * province's hundreds of sources on one server paid a new TCP connection. */
  if (mc == CURLM_OK)
    mc = curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, (long)max_in_flight);
  if (mc != CURLM_OK)
    goto fail;
  /* The last step that can fail: after it the timer is a handle that must be closed. */
  if (uv_timer_init(loop, &f->timer) != 0)
    goto fail;
  f->timer.data = f;
  f->open_handles = 1;
  *out = f;
  return 0;

fail:
  if (f != NULL) {
    if (f->multi != NULL)
      curl_multi_cleanup(f->multi);
    free(f->spare_easy);
    free(f->user_agent);
    free(f);
  }
  curl_global_cleanup();
  return -ENOMEM;
}

static int has_line_break(const char *s) {
  return s != NULL && strpbrk(s, "\r\n") != NULL;
}

static int add_header(struct curl_slist **list, const char *line) {
  struct curl_slist *l = curl_slist_append(*list, line);

  if (l == NULL)
    return -ENOMEM;
  *list = l;
  return 0;
}

static int add_header2(struct curl_slist **list, const char *name, const char *value) {
  char line[1024];
  int n = snprintf(line, sizeof(line), "%s: %s", name, value);

  if (n < 0 || (size_t)n >= sizeof(line))
    return -EINVAL;
  return add_header(list, line);
}

static int setopt_errno(CURLcode c) {
  switch (c) {
  case CURLE_OK:
    return 0;
  case CURLE_OUT_OF_MEMORY:
    return -ENOMEM;
  case CURLE_UNKNOWN_OPTION:
  case CURLE_NOT_BUILT_IN:
    return -ENOTSUP;
  case CURLE_UNSUPPORTED_PROTOCOL:
    return -EPROTO;
  default:
    return -EINVAL;
  }
}

/* Sets up J->easy for REQ. Returns 0 or a negative errno. */
static int job_setup(struct pw_fetch *f, struct pw_fetch_job *j,
                     const struct pw_fetch_request *req) {
  CURL *e;
  CURLcode c = CURLE_OK;
  size_t i;
  int rc;

  for (i = 0; i < req->n_headers; i++) {
    if (req->headers[i] == NULL || has_line_break(req->headers[i]))
      return -EINVAL;
    rc = add_header(&j->headers, req->headers[i]);
    if (rc < 0)
      return rc;
  }
  /* Validators are sent as plain headers (not CURLOPT_TIMECONDITION) so they go back exactly
   * as the server wrote them. */
  if (req->etag != NULL && req->etag[0] != '\0') {
    rc = add_header2(&j->headers, "If-None-Match", req->etag);
    if (rc < 0)
      return rc;
  }
  if (req->last_modified != NULL && req->last_modified[0] != '\0') {
    rc = add_header2(&j->headers, "If-Modified-Since", req->last_modified);
    if (rc < 0)
      return rc;
  }
  if (req->post_body != NULL) {
    /* The request's strings are borrowed only until start returns, and POSTFIELDS does not
     * copy: keep our own copy for the life of the transfer. */
    j->post_body = malloc(req->post_len + 1);
    if (j->post_body == NULL)
      return -ENOMEM;
    memcpy(j->post_body, req->post_body, req->post_len);
    j->post_body[req->post_len] = '\0';
  }

  if (f->n_spare_easy > 0)
    j->easy = e = f->spare_easy[--f->n_spare_easy];
  else
    j->easy = e = curl_easy_init();
  if (e == NULL)
    return -ENOMEM;

#define SET(opt, val)                                                                              \
  do {                                                                                             \
    if (c == CURLE_OK)                                                                             \
      c = curl_easy_setopt(e, opt, val);                                                           \
  } while (0)
  SET(CURLOPT_URL, req->url);
  SET(CURLOPT_PRIVATE, (void *)j);
  SET(CURLOPT_NOSIGNAL, 1L);
  /* An unknown protocol name makes this very call fail, so its result is checked like all. */
  SET(CURLOPT_PROTOCOLS_STR, "http,https,file");
  /* A server must not be able to send us to file:// (it could make us read local files). */
  SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  SET(CURLOPT_FOLLOWLOCATION, req->no_redirects ? 0L : 1L);
  SET(CURLOPT_MAXREDIRS, 5L);
  SET(CURLOPT_TIMEOUT_MS, (long)j->timeout_ms);
  if (f->user_agent != NULL)
    SET(CURLOPT_USERAGENT, f->user_agent);
  if (j->headers != NULL)
    SET(CURLOPT_HTTPHEADER, j->headers);
  SET(CURLOPT_SSL_VERIFYPEER, req->tls_verify ? 1L : 0L);
  SET(CURLOPT_SSL_VERIFYHOST, req->tls_verify ? 2L : 0L);
  if (req->ca_file != NULL && req->ca_file[0] != '\0')
    SET(CURLOPT_CAINFO, req->ca_file);
  /* "" rather than leaving it unset: NULL means no proxy, not the environment's http_proxy. */
  SET(CURLOPT_PROXY, req->proxy != NULL ? req->proxy : "");
  SET(CURLOPT_ACCEPT_ENCODING, "");
  /* Fails at once on a Content-Length over the limit; chunked bodies are counted in on_write. */
  SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)j->max_bytes);
  SET(CURLOPT_WRITEFUNCTION, on_write);
  SET(CURLOPT_WRITEDATA, (void *)j);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  SET(CURLOPT_HEADERDATA, (void *)j);
  SET(CURLOPT_ERRORBUFFER, j->curl_error);
  SET(CURLOPT_SOCKOPTFUNCTION, on_sockopt);
  SET(CURLOPT_SOCKOPTDATA, (void *)f);
  SET(CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
  SET(CURLOPT_CLOSESOCKETDATA, (void *)f);
  if (j->post_body != NULL) {
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->post_len);
    SET(CURLOPT_POSTFIELDS, j->post_body);
    /* A followed 301/302/303 keeps the POST and its body (docs/configuration.md,
     * follow_redirects): curl would turn it into a bodiless GET, and a 200 to that GET would
     * count as delivered although the notification never arrived. */
    SET(CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
  }
  if (req->customize != NULL) {
    j->smtp = 1;
    SET(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    if (c == CURLE_OK) {
      /* The hook's own error (out of memory building a message) is the caller's to see. */
      rc = req->customize(e, req->customize_arg);
      if (rc < 0)
        return rc;
    }
  }
#undef SET
  return setopt_errno(c);
}

int pw_fetch_start(struct pw_fetch *f, const struct pw_fetch_request *req, pw_fetch_done_cb done,
                   void *data, struct pw_fetch_job **job) {
  struct pw_fetch_job *j;
  int rc;

  if (f == NULL || req == NULL || req->url == NULL || done == NULL || req->timeout_ms < 0 ||
      (req->post_body == NULL && req->post_len != 0) || (req->headers == NULL && req->n_headers))
    return -EINVAL;
  if (has_line_break(req->etag) || has_line_break(req->last_modified))
    return -EINVAL;
  if (f->closing)
    return -ECANCELED;
  j = job_new(f);
  if (j == NULL)
    return -ENOMEM;
  j->f = f;
  j->done = done;
  j->data = data;
  j->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : FETCH_DEFAULT_TIMEOUT_MS;
  j->max_bytes = req->max_bytes > 0 ? req->max_bytes : FETCH_DEFAULT_MAX_BYTES;
  j->no_redirects = req->no_redirects;
  if (!is_utf8_name(req->charset)) {
    j->charset = strdup(req->charset);
    if (j->charset == NULL) {
      rc = -ENOMEM;
      goto fail;
    }
  }
  rc = job_setup(f, j, req);
  if (rc < 0)
    goto fail;
  /* Only start at once when nobody is waiting, so the queue stays first in, first out. */
  if (f->queue.head == NULL && f->running.n < (size_t)f->max_in_flight) {
    rc = job_run(f, j);
    if (rc < 0)
      goto fail;
  } else {
    list_push(&f->queue, j);
  }
  if (job != NULL)
    *job = j;
  return 0;

fail:
  job_free(j);
  return rc;
}

size_t pw_fetch_active(const struct pw_fetch *f) {
  return f != NULL ? f->running.n + f->queue.n : 0;
}

void pw_fetch_close(struct pw_fetch *f, void (*closed)(void *data), void *data) {
  struct fetch_sock *s;

  /* A second call (say from a DONE that runs during the first) has nothing left to do. */
  if (f == NULL || f->closing)
    return;
  f->closing = 1;
  f->closed = closed;
  f->closed_data = data;
  while (f->queue.head != NULL) {
    struct pw_fetch_job *j = f->queue.head;

    list_unlink(&f->queue, j);
    job_cancel(j);
  }
  while (f->running.head != NULL) {
    struct pw_fetch_job *j = f->running.head;

    list_unlink(&f->running, j);
    /* Removing the handle may call on_curl_socket with CURL_POLL_REMOVE, which closes the
     * transfer's poll handles as usual. */
    curl_multi_remove_handle(f->multi, j->easy);
    job_cancel(j);
  }
  curl_multi_cleanup(f->multi);
  f->multi = NULL;
  spares_free(f);
  curl_global_cleanup();
  /* Whatever curl did not tell us to remove is closed here; each close callback frees its
   * own memory and the last one frees F. */
  for (s = f->socks; s != NULL; s = s->next)
    sock_close(s);
  uv_close((uv_handle_t *)&f->timer, on_timer_closed);
}
