/*
 * clearTree(dir, dev[, ino, mountId]): empties the directory `dir` the way `rm -rf` does — every step relative to an open directory
 * (`openat`, `fstatat`, `unlinkat`), so no path is looked up twice and no symlink is ever followed — and measures
 * what it unlinks (`st_size`, `st_blocks * 512`), which Node 20 cannot do without a lookup of the whole path per
 * entry. Runs on the worktrees hook's worker threads (`_tree_tasks.ts`); the JavaScript deletion there is the
 * fallback when this addon is not built, and gives the same answers.
 *
 * Given `ino` and `mountId` (as found by the caller when it split a tree: the inode of `dir` and the mount id of the
 * tree's top), `dir` is entered only if it is still that directory on that mount — a directory above it swapped for a
 * link in between, or a mount made on it, leaves it in place.
 *
 * Returns { empty, entries, files, size, bytes, otherFilesystem, errors }: whether `dir` is empty afterwards (the
 * caller removes it), what was unlinked, directories on another filesystem than `dev` (never entered, left in
 * place) and up to 20 error messages (a vanished entry is not an error).
 *
 * Safety: every entry is `fstatat`ed without following a link before anything is done to it; a directory is opened
 * with O_NOFOLLOW | O_DIRECTORY and entered only if the opened directory is the one that was `fstatat`ed (same device
 * and inode) and on the same mount as the top (`statx` mount id: a bind mount of the same filesystem is another
 * mount), so a directory swapped for a link or for another directory in between is not entered; `unlinkat` on a
 * name removes that name only (a link itself), and refuses a directory swapped in (EISDIR), which then stays.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define MAX_ERRORS 20
/* Deeper than this, a directory is left in place (reported): the recursion holds a descriptor and a stack frame per
 * level, and a worker thread's stack is small. Real trees (node_modules, target) stay well under 100 levels. */
#define MAX_DEPTH 1024

typedef struct {
  dev_t dev;
  /* The mount of the top directory (`statx` STATX_MNT_ID): a bind mount has the same device, not the same mount. */
  unsigned long long mnt_id;
  double entries, files, size, bytes, other_filesystem;
  int error_count;
  char *errors[MAX_ERRORS];
} tally;

/* A path for messages only: the parent's path and a name. */
static void note(tally *t, const char *dir, const char *name, const char *what) {
  if (t->error_count >= MAX_ERRORS) return;
  size_t n = strlen(dir) + strlen(name) + strlen(what) + 4;
  char *text = malloc(n);
  if (text == NULL) return;
  snprintf(text, n, "%s%s%s: %s", dir, *name ? "/" : "", name, what);
  t->errors[t->error_count++] = text;
}

static void note_errno(tally *t, const char *dir, const char *name, int err) {
  if (err != ENOENT) note(t, dir, name, strerror(err));
}

/* After a failed call on `name`: notes errno (a vanished entry is no error); true when the entry is gone. */
static int gone_after_error(tally *t, const char *dir, const char *name) {
  int err = errno;
  note_errno(t, dir, name, err);
  return err == ENOENT;
}

/* Unlinks `name` (a directory with AT_REMOVEDIR) and counts it with its `fstatat` figures; true when it is gone. */
static int unlink_counted(int fd, const char *dir, const char *name, const struct stat *st, int flags, tally *t) {
  if (unlinkat(fd, name, flags) != 0) return gone_after_error(t, dir, name);
  t->entries++;
  if (!(flags & AT_REMOVEDIR)) t->files++;
  t->size += (double)st->st_size;
  t->bytes += (double)st->st_blocks * 512;
  return 1;
}

/* The names in an open directory (its descriptor stays open, owned by the caller); NULL on failure, errno set. */
static char **list_names(int fd, size_t *count) {
  int copy = dup(fd);
  if (copy < 0) return NULL;
  DIR *dir = fdopendir(copy);
  if (dir == NULL) {
    int err = errno;
    close(copy);
    errno = err;
    return NULL;
  }
  size_t cap = 64, n = 0;
  char **names = malloc(cap * sizeof *names);
  struct dirent *e;
  errno = 0;
  while (names != NULL && (e = readdir(dir)) != NULL) {
    if (e->d_name[0] == '.' && (e->d_name[1] == 0 || (e->d_name[1] == '.' && e->d_name[2] == 0))) continue;
    if (n == cap) {
      char **grown = realloc(names, (cap *= 2) * sizeof *names);
      if (grown == NULL) break;
      names = grown;
    }
    if ((names[n] = strdup(e->d_name)) == NULL) break;
    n++;
    errno = 0;
  }
  int err = errno;
  closedir(dir);
  if (err != 0 || names == NULL) {
    for (size_t i = 0; names != NULL && i < n; i++) free(names[i]);
    free(names);
    errno = err ? err : ENOMEM;
    return NULL;
  }
  *count = n;
  return names;
}

/* Empties the open directory `fd` (whose path, for messages, is `path`, `depth` levels below the top); true when it
 * is empty afterwards. */
static int clear(int fd, const char *path, int depth, tally *t) {
  if (depth > MAX_DEPTH) {
    note(t, path, "", "nested too deep (left in place)");
    return 0;
  }
  size_t count = 0;
  char **names = list_names(fd, &count);
  if (names == NULL) {
    note_errno(t, path, "", errno);
    return 0;
  }
  int empty = 1;
  for (size_t i = 0; i < count; i++) {
    const char *name = names[i];
    struct stat st;
    if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (!gone_after_error(t, path, name)) empty = 0;
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      if (!unlink_counted(fd, path, name, &st, 0, t)) empty = 0;
      continue;
    }
    if (st.st_dev != t->dev) {
      t->other_filesystem++;
      empty = 0;
      continue;
    }
    int sub = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) {
      if (!gone_after_error(t, path, name)) empty = 0;
      continue;
    }
    struct statx opened;
    if (statx(sub, "", AT_EMPTY_PATH, STATX_INO | STATX_MNT_ID, &opened) != 0 ||
        makedev(opened.stx_dev_major, opened.stx_dev_minor) != st.st_dev || opened.stx_ino != st.st_ino) {
      close(sub);
      empty = 0;
      note(t, path, name, "changed while being deleted (left in place)");
      continue;
    }
    if (!(opened.stx_mask & STATX_MNT_ID) || opened.stx_mnt_id != t->mnt_id) {
      close(sub); /* a mount point (a bind mount of the same filesystem too): never entered */
      t->other_filesystem++;
      empty = 0;
      continue;
    }
    size_t n = strlen(path) + strlen(name) + 2;
    char *subpath = malloc(n);
    if (subpath != NULL) snprintf(subpath, n, "%s/%s", path, name);
    int cleared = clear(sub, subpath != NULL ? subpath : path, depth + 1, t);
    free(subpath);
    close(sub);
    if (!cleared || !unlink_counted(fd, path, name, &st, AT_REMOVEDIR, t)) empty = 0;
  }
  for (size_t i = 0; i < count; i++) free(names[i]);
  free(names);
  return empty;
}

#define CHECK(call)                                                        \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error(env, NULL, "clearTree: N-API call failed: " #call); \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

static napi_value set_number(napi_env env, napi_value obj, const char *key, double value) {
  napi_value v;
  if (napi_create_double(env, value, &v) != napi_ok || napi_set_named_property(env, obj, key, v) != napi_ok) return NULL;
  return obj;
}

static napi_value clear_tree(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "clearTree(dir, dev[, ino, mountId]): two or four arguments");
    return NULL;
  }
  size_t len;
  CHECK(napi_get_value_string_utf8(env, argv[0], NULL, 0, &len));
  char *dir = malloc(len + 1);
  if (dir == NULL) {
    napi_throw_error(env, NULL, "clearTree: out of memory");
    return NULL;
  }
  CHECK(napi_get_value_string_utf8(env, argv[0], dir, len + 1, &len));
  while (len > 1 && dir[len - 1] == '/') dir[--len] = 0; /* "link/" would open what the link points to */
  double dev, want_ino = -1, want_mount = -1;
  CHECK(napi_get_value_double(env, argv[1], &dev));
  if (argc >= 4) {
    CHECK(napi_get_value_double(env, argv[2], &want_ino));
    CHECK(napi_get_value_double(env, argv[3], &want_mount));
  }

  tally t = {0};
  t.dev = (dev_t)dev;
  int empty = 0;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct statx st;
  if (fd < 0) {
    int err = errno;
    note_errno(&t, dir, "", err);
    empty = err == ENOENT;
  } else if (statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_MNT_ID, &st) != 0 || !(st.stx_mask & STATX_MNT_ID) ||
             makedev(st.stx_dev_major, st.stx_dev_minor) != t.dev) {
    t.other_filesystem++;
    close(fd);
  } else if (want_ino >= 0 && (double)st.stx_ino != want_ino) {
    note(&t, dir, "", "changed while being deleted (left in place)");
    close(fd);
  } else if (want_mount >= 0 && (double)st.stx_mnt_id != want_mount) {
    t.other_filesystem++; /* a mount point: never entered */
    close(fd);
  } else {
    t.mnt_id = st.stx_mnt_id;
    empty = clear(fd, dir, 0, &t);
    close(fd);
  }
  free(dir);

  napi_value result, errors, flag;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_get_boolean(env, empty, &flag));
  CHECK(napi_set_named_property(env, result, "empty", flag));
  if (set_number(env, result, "entries", t.entries) == NULL || set_number(env, result, "files", t.files) == NULL ||
      set_number(env, result, "size", t.size) == NULL || set_number(env, result, "bytes", t.bytes) == NULL ||
      set_number(env, result, "otherFilesystem", t.other_filesystem) == NULL) {
    napi_throw_error(env, NULL, "clearTree: N-API call failed");
    return NULL;
  }
  CHECK(napi_create_array_with_length(env, (size_t)t.error_count, &errors));
  for (int i = 0; i < t.error_count; i++) {
    napi_value text;
    CHECK(napi_create_string_utf8(env, t.errors[i], NAPI_AUTO_LENGTH, &text));
    CHECK(napi_set_element(env, errors, (uint32_t)i, text));
    free(t.errors[i]);
  }
  CHECK(napi_set_named_property(env, result, "errors", errors));
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "clearTree", NAPI_AUTO_LENGTH, clear_tree, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "clearTree", fn) != napi_ok) return NULL;
  return exports;
}
