/* proxyrt foreign-toolchain test app: C, built with clang for wasm32-wasi (preview 1, wasi-libc)
 * and turned into a wasi:cli/command component with the wasi_snapshot_preview1 adapter.
 * Its spec is the py/js apps' (tests/integration/foreign.rs): print a greeting, the argument, the
 * GREETING variable and the first line of /data/in.txt; write /data/out.txt = in.txt upper-cased
 * + "greeting=GREETING\n"; print the wall clock and random bytes; a line on stderr; "done". */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    printf("c-app: hello from C (clang, wasi-libc, preview1 adapter)\n");
    for (int i = 1; i < argc; i++) printf("c-app: arg %s\n", argv[i]);
    const char *greeting = getenv("GREETING");
    printf("c-app: GREETING=%s\n", greeting ? greeting : "(unset)");

    char text[4096];
    FILE *in = fopen("/data/in.txt", "r");
    if (!in) {
        perror("c-app: /data/in.txt");
        return 2;
    }
    size_t n = fread(text, 1, sizeof text - 1, in);
    fclose(in);
    text[n] = 0;
    size_t first = strcspn(text, "\n");
    printf("c-app: read %zu bytes, first line: %.*s\n", n, (int)first, text);

    FILE *out = fopen("/data/out.txt", "w");
    if (!out) {
        perror("c-app: /data/out.txt");
        return 2;
    }
    for (size_t i = 0; i < n; i++) fputc(toupper((unsigned char)text[i]), out);
    fprintf(out, "greeting=%s\n", greeting ? greeting : "");
    fclose(out);
    printf("c-app: wrote /data/out.txt\n");

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    printf("c-app: wall-clock %lld.%09ld\n", (long long)ts.tv_sec, ts.tv_nsec);
    unsigned char r[8];
    if (getentropy(r, sizeof r) != 0) return 2;
    printf("c-app: random bytes=");
    for (int i = 0; i < 8; i++) printf("%02x", r[i]);
    printf("\n");
    fprintf(stderr, "c-app: to stderr\n");
    printf("c-app: done\n");
    return 0;
}
