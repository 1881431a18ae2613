/*
 * tokens: see tokens.h. A token is 32 random bytes written in base64url; what is kept is a
 * random 16-byte salt per token and SHA-256(salt || token), so the file gives nothing to replay
 * and equal tokens (there are none) would not show. Checking hashes the sent token with every
 * entry's salt and compares all of them, so a request learns nothing from the time it took.
 */
#include "tokens.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Reads exactly 2*N lowercase hex digits from S into OUT. Returns 0 or -1. */
static int unhex(const char *s, unsigned char *out, size_t n) {
  size_t i;

  if (s == NULL || strlen(s) != 2 * n)
    return -1;
  for (i = 0; i < n; i++) {
    int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return -1;
    out[i] = (unsigned char)(hi << 4 | lo);
  }
  return 0;
}

static void tohex(const unsigned char *in, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  size_t i;

  for (i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

/* A department id as docs/configuration.md allows it: a-z, 0-9 and _, 1 to 64. */
static int id_ok(const char *s) {
  size_t i, n = s != NULL ? strlen(s) : 0;

  if (n == 0 || n > 64)
    return 0;
  for (i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
      return 0;
  return 1;
}

/* SHA-256(salt || token) for a token of PW_TOKEN_LEN characters. */
static void hash_token(const unsigned char salt[16], const char *token, unsigned char out[32]) {
  unsigned char buf[16 + PW_TOKEN_LEN];

  memcpy(buf, salt, 16);
  memcpy(buf + 16, token, PW_TOKEN_LEN);
  SHA256(buf, sizeof(buf), out);
  OPENSSL_cleanse(buf, sizeof(buf));
}

/* Entry I of the file (JE) into E. Returns 0 or -EINVAL with MSG. */
static int parse_entry(json_t *je, size_t i, struct pw_token_entry *e, char *msg, size_t msglen) {
  const char *id, *dep;
  json_t *created;

  if (!json_is_object(je) || json_object_size(je) != 5) {
    snprintf(msg, msglen,
             "entry %zu: must be an object of id, department, created, salt and "
             "sha256",
             i + 1);
    return -EINVAL;
  }
  id = json_string_value(json_object_get(je, "id"));
  if (id == NULL || strlen(id) != 8 || strspn(id, "0123456789abcdef") != 8) {
    snprintf(msg, msglen, "entry %zu: id must be 8 hex digits", i + 1);
    return -EINVAL;
  }
  dep = json_string_value(json_object_get(je, "department"));
  if (!id_ok(dep)) {
    snprintf(msg, msglen, "entry %zu: department must be a department id", i + 1);
    return -EINVAL;
  }
  created = json_object_get(je, "created");
  if (!json_is_integer(created) || json_integer_value(created) < 0) {
    snprintf(msg, msglen, "entry %zu: created must be epoch seconds", i + 1);
    return -EINVAL;
  }
  if (unhex(json_string_value(json_object_get(je, "salt")), e->salt, 16) < 0) {
    snprintf(msg, msglen, "entry %zu: salt must be 32 hex digits", i + 1);
    return -EINVAL;
  }
  if (unhex(json_string_value(json_object_get(je, "sha256")), e->hash, 32) < 0) {
    snprintf(msg, msglen, "entry %zu: sha256 must be 64 hex digits", i + 1);
    return -EINVAL;
  }
  pw_strlcpy(e->id, id, sizeof(e->id));
  pw_strlcpy(e->department, dep, sizeof(e->department));
  e->created = json_integer_value(created);
  return 0;
}

int pw_tokens_parse(const char *text, size_t len, struct pw_tokens *out, char *msg, size_t msglen) {
  json_error_t jerr;
  json_t *doc, *list, *je;
  size_t i, j;
  int rc = 0;

  memset(out, 0, sizeof(*out));
  doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (doc == NULL) {
    snprintf(msg, msglen, "not JSON (%s, line %d)", jerr.text, jerr.line);
    return -EINVAL;
  }
  list = json_object_get(doc, "tokens");
  if (!json_is_object(doc) || json_object_size(doc) != 1 || !json_is_array(list)) {
    snprintf(msg, msglen, "must be an object holding only \"tokens\", an array");
    json_decref(doc);
    return -EINVAL;
  }
  if (json_array_size(list) > PW_TOKENS_MAX) {
    snprintf(msg, msglen, "more than %d tokens", PW_TOKENS_MAX);
    json_decref(doc);
    return -EINVAL;
  }
  out->v = calloc(json_array_size(list) + 1, sizeof(*out->v));
  if (out->v == NULL) {
    json_decref(doc);
    return -ENOMEM;
  }
  json_array_foreach(list, i, je) {
    rc = parse_entry(je, i, &out->v[i], msg, msglen);
    for (j = 0; rc == 0 && j < i; j++)
      if (strcmp(out->v[j].id, out->v[i].id) == 0) {
        snprintf(msg, msglen, "entry %zu: id %s given twice", i + 1, out->v[i].id);
        rc = -EINVAL;
      }
    if (rc < 0)
      break;
    out->n++;
  }
  json_decref(doc);
  if (rc < 0)
    pw_tokens_free(out);
  return rc;
}

int pw_tokens_read(const char *state_dir, struct pw_tokens *out, char *msg, size_t msglen) {
  char *path = pw_path_join(state_dir, "tokens.json"), *text = NULL, why[200];
  const char *what = "";
  size_t len;
  int rc;

  memset(out, 0, sizeof(*out));
  if (path == NULL)
    return -ENOMEM;
  rc = pw_regular_file(path, &what);
  if (rc == -ENOENT) {
    free(path);
    return 0;
  }
  if (rc == 0)
    rc = pw_read_state_file(path, PW_TOKENS_FILE_MAX, &text, &len);
  if (rc < 0) {
    if (what[0] != '\0')
      snprintf(msg, msglen, "%s: refused: %s, not a regular file", path, what);
    else if (rc == -E2BIG)
      snprintf(msg, msglen, "%s: refused: larger than %u bytes", path, PW_TOKENS_FILE_MAX);
    else if (rc == -ELOOP)
      snprintf(msg, msglen, "%s: refused: a symbolic link (not followed), not a regular file",
               path);
    else
      snprintf(msg, msglen, "%s: cannot read: %s", path, strerror(-rc));
    free(path);
    return rc == -ENOENT ? 0 : rc;
  }
  rc = pw_tokens_parse(text, len, out, why, sizeof(why));
  if (rc < 0)
    snprintf(msg, msglen, "%s: refused: %s", path, why);
  free(text);
  free(path);
  return rc;
}

int pw_tokens_write(const char *state_dir, const struct pw_tokens *t) {
  char *path = pw_path_join(state_dir, "tokens.json"), *text = NULL;
  json_t *doc = json_object(), *list = json_array();
  char salt[33], hash[65];
  size_t i;
  int rc = -ENOMEM;

  if (path == NULL || doc == NULL || list == NULL)
    goto out;
  for (i = 0; i < t->n; i++) {
    const struct pw_token_entry *e = &t->v[i];
    tohex(e->salt, 16, salt);
    tohex(e->hash, 32, hash);
    if (json_array_append_new(list, json_pack("{s:s,s:s,s:I,s:s,s:s}", "id", e->id, "department",
                                              e->department, "created", (json_int_t)e->created,
                                              "salt", salt, "sha256", hash)) < 0)
      goto out;
  }
  if (json_object_set(doc, "tokens", list) < 0 ||
      (text = json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER)) == NULL)
    goto out;
  rc = pw_write_file_atomic_mode(path, text, strlen(text), 0600);
out:
  free(text);
  json_decref(list);
  json_decref(doc);
  free(path);
  return rc;
}

int pw_tokens_new(struct pw_tokens *t, const char *department, int64_t now, char *token,
                  size_t size) {
  unsigned char raw[32], idb[4];
  unsigned char b64[48];
  struct pw_token_entry *v, *e;
  size_t i, j;
  int n;

  if (size < PW_TOKEN_LEN + 1 || !id_ok(department))
    return -EINVAL;
  v = realloc(t->v, (t->n + 1) * sizeof(*v));
  if (v == NULL)
    return -ENOMEM;
  t->v = v;
  e = &v[t->n];
  memset(e, 0, sizeof(*e));
  do {
    if (RAND_bytes(idb, sizeof(idb)) != 1)
      return -EIO;
    tohex(idb, 4, e->id);
    for (j = 0; j < t->n && strcmp(t->v[j].id, e->id) != 0; j++)
      ;
  } while (j < t->n);
  if (RAND_bytes(raw, sizeof(raw)) != 1 || RAND_bytes(e->salt, sizeof(e->salt)) != 1)
    return -EIO;
  /* base64url without padding: 32 bytes are 43 characters. */
  n = EVP_EncodeBlock(b64, raw, sizeof(raw));
  OPENSSL_cleanse(raw, sizeof(raw));
  if (n < PW_TOKEN_LEN)
    return -EIO;
  for (i = 0; i < PW_TOKEN_LEN; i++)
    token[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
  token[PW_TOKEN_LEN] = '\0';
  OPENSSL_cleanse(b64, sizeof(b64));
  pw_strlcpy(e->department, department, sizeof(e->department));
  e->created = now;
  hash_token(e->salt, token, e->hash);
  t->n++;
  return 0;
}

int pw_tokens_remove(struct pw_tokens *t, const char *id) {
  size_t i;

  for (i = 0; i < t->n; i++)
    if (strcmp(t->v[i].id, id) == 0) {
      memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(t->v[0]));
      t->n--;
      return 0;
    }
  return -ENOENT;
}

int pw_tokens_check(const struct pw_tokens *t, const char *token, size_t len,
                    const char *department) {
  char id[9];

  return pw_tokens_match(t, token, len, department, id);
}

int pw_tokens_match(const struct pw_tokens *t, const char *token, size_t len,
                    const char *department, char *id) {
  unsigned char h[32];
  int mine = 0, other = 0;
  size_t i;

  /* Every token has the same length (a public fact of the format): another length is none. */
  if (len != PW_TOKEN_LEN)
    return -EPERM;
  for (i = 0; t != NULL && i < t->n; i++) {
    int same;
    hash_token(t->v[i].salt, token, h);
    same = CRYPTO_memcmp(h, t->v[i].hash, sizeof(h)) == 0;
    if (same && strcmp(t->v[i].department, department) == 0) {
      mine = 1;
      memcpy(id, t->v[i].id, sizeof(t->v[i].id));
    } else if (same)
      other = 1;
  }
  OPENSSL_cleanse(h, sizeof(h));
  return mine ? 0 : other ? -EACCES : -EPERM;
}

void pw_tokens_free(struct pw_tokens *t) {
  if (t == NULL)
    return;
  free(t->v);
  t->v = NULL;
  t->n = 0;
}
