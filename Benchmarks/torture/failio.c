/* failio: an LD_PRELOAD shim that makes writes and syncs of LMDB's data.mdb fail, to test how
 * vdb reports I/O errors (Benchmarks/torture, `vdb-torture ioerrors`).
 *
 *   FAILIO_AFTER=N    the N-th write/sync call on data.mdb (1-based) fails, and every later one
 *                     too with FAILIO_MODE=always (a dying disk) or only that one with
 *                     FAILIO_MODE=once (a transient error; the default)
 *   FAILIO_ERRNO=E    the errno to fail with (default 5, EIO; 28 is ENOSPC)
 *
 * Build: cc -shared -fPIC -O2 -o failio.so failio.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static long calls;

static int is_data_file(int fd) {
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return 0;
    path[n] = 0;
    return n >= 8 && strcmp(path + n - 8, "data.mdb") == 0;
}

/* Whether this call (on data.mdb) should fail. */
static int should_fail(int fd) {
    if (!is_data_file(fd)) return 0;
    const char *after = getenv("FAILIO_AFTER");
    if (!after) return 0;
    long n = __atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST);
    long at = atol(after);
    const char *mode = getenv("FAILIO_MODE");
    int always = mode && strcmp(mode, "always") == 0;
    if (n == at || (always && n > at)) {
        const char *e = getenv("FAILIO_ERRNO");
        errno = e ? atoi(e) : EIO;
        return 1;
    }
    return 0;
}

#define REAL(name) static __typeof__(name) *real_##name; if (!real_##name) real_##name = dlsym(RTLD_NEXT, #name)

ssize_t write(int fd, const void *buf, size_t n) { REAL(write); if (should_fail(fd)) return -1; return real_write(fd, buf, n); }
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) { REAL(pwrite); if (should_fail(fd)) return -1; return real_pwrite(fd, buf, n, off); }
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) { REAL(pwrite64); if (should_fail(fd)) return -1; return real_pwrite64(fd, buf, n, off); }
ssize_t writev(int fd, const struct iovec *iov, int cnt) { REAL(writev); if (should_fail(fd)) return -1; return real_writev(fd, iov, cnt); }
ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off) { REAL(pwritev); if (should_fail(fd)) return -1; return real_pwritev(fd, iov, cnt, off); }
int fsync(int fd) { REAL(fsync); if (should_fail(fd)) return -1; return real_fsync(fd); }
int fdatasync(int fd) { REAL(fdatasync); if (should_fail(fd)) return -1; return real_fdatasync(fd); }
