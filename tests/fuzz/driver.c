/*
 * wb-fuzz driver: a seeded, coverage-guided mutation loop for the targets in tests/fuzz. Each
 * target defines libFuzzer's entry point (LLVMFuzzerTestOneInput), so the same files also build
 * with clang -fsanitize=fuzzer; this driver needs only gcc. The code under test is compiled
 * with -fsanitize-coverage=trace-pc: the callback below hashes each pair of consecutive basic
 * blocks into an edge map with AFL-style hit-count buckets, and an input that reaches a new
 * edge or bucket joins the corpus. Under ASan/UBSan a finding aborts with the sanitizer's
 * report after the input is saved as crash-<target>-<seed>.bin in the working directory; a
 * target reports a broken property the same way (abort()). See docs/fuzzing.md.
 *
 *   wb-fuzz-<target> [-t seconds] [-r max_runs] [-s seed] [-m max_len] [-o new_corpus_dir]
 *                    corpus_dir_or_file...
 * Every corpus file runs once first; -r 0 runs only those (to reproduce a saved input).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sanitizer/common_interface_defs.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Tokens worth inserting, from the target (may be absent). */
extern const char *const wb_fuzz_dict[] __attribute__((weak));
extern const char *const wb_fuzz_name __attribute__((weak));

#define MAP_SIZE   (1u << 16)
#define MAX_CORPUS 20000

static uint8_t cov[MAP_SIZE];
static uint8_t seen[MAP_SIZE];
static uintptr_t prev_loc;

void __sanitizer_cov_trace_pc(void)
{
    uintptr_t pc = (uintptr_t)__builtin_return_address(0);
    uintptr_t loc = (pc ^ (pc >> 12)) & (MAP_SIZE - 1);
    uint8_t *c = &cov[loc ^ prev_loc];

    if (*c < 255)
        (*c)++;
    prev_loc = loc >> 1;
}

struct input {
    uint8_t *data;
    size_t len;
};

static struct input corpus[MAX_CORPUS];
static size_t ncorpus;
static uint64_t rng_state;
static const uint8_t *cur_data;
static size_t cur_len;
static char crash_path[256];

static uint64_t rnd(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static size_t below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

/* Saves the input being run (from a death callback or a fatal signal: best effort). */
static void save_current(void)
{
    FILE *f;

    if (!cur_data)
        return;
    f = fopen(crash_path, "wb");
    if (f) {
        fwrite(cur_data, 1, cur_len, f);
        fclose(f);
    }
    fprintf(stderr, "wb-fuzz: input saved as %s (%zu bytes)\n", crash_path, cur_len);
    cur_data = NULL;
}

static void on_signal(int sig)
{
    save_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

static uint8_t bucket(uint8_t n)
{
    if (n <= 3)
        return n == 0 ? 0 : (uint8_t)(1u << (n - 1));
    if (n <= 7)
        return 8;
    if (n <= 15)
        return 16;
    if (n <= 31)
        return 32;
    return n <= 127 ? 64 : 128;
}

/* Runs one input; returns 1 when it reached a new edge or hit-count bucket. */
static int run_one(const uint8_t *data, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    int fresh = 0;
    size_t i;

    /* An exact-size heap copy: ASan sees any read past the end. */
    if (len)
        memcpy(copy, data, len);
    cur_data = data;
    cur_len = len;
    memset(cov, 0, sizeof(cov));
    prev_loc = 0;
    LLVMFuzzerTestOneInput(copy, len);
    cur_data = NULL;
    free(copy);
    for (i = 0; i < MAP_SIZE; i += 8) {
        uint64_t w;
        size_t j;

        memcpy(&w, cov + i, 8);
        if (!w)
            continue; /* most of the map: skip a word at a time */
        for (j = i; j < i + 8; j++) {
            uint8_t b = bucket(cov[j]);

            if (b & ~seen[j]) {
                seen[j] |= b;
                fresh = 1;
            }
        }
    }
    return fresh;
}

static void add_corpus(const uint8_t *data, size_t len)
{
    if (ncorpus == MAX_CORPUS)
        return;
    corpus[ncorpus].data = malloc(len ? len : 1);
    if (len)
        memcpy(corpus[ncorpus].data, data, len);
    corpus[ncorpus].len = len;
    ncorpus++;
}

static void load_file(const char *path, size_t max_len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    size_t n;

    if (!f) {
        fprintf(stderr, "wb-fuzz: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    buf = malloc(max_len);
    n = fread(buf, 1, max_len, f);
    fclose(f);
    run_one(buf, n);
    add_corpus(buf, n); /* every seed stays, new edges or not */
    free(buf);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load(const char *path, size_t max_len)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, i;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "wb-fuzz: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    if (!S_ISDIR(st.st_mode)) {
        load_file(path, max_len);
        return;
    }
    d = opendir(path);
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        names = realloc(names, (n + 1) * sizeof(*names));
        names[n] = malloc(strlen(path) + strlen(e->d_name) + 2);
        sprintf(names[n++], "%s/%s", path, e->d_name);
    }
    if (d)
        closedir(d);
    qsort(names, n, sizeof(*names), name_cmp); /* the same order every run */
    for (i = 0; i < n; i++) {
        load_file(names[i], max_len);
        free(names[i]);
    }
    free(names);
}

static const char *const numbers[] = {"0",
                                      "-1",
                                      "1",
                                      "255",
                                      "65536",
                                      "2147483647",
                                      "4294967295",
                                      "4294967296",
                                      "9223372036854775807",
                                      "18446744073709551615",
                                      "18446744073709551616",
                                      "1e308",
                                      "-0",
                                      "0.5",
                                      "99999999999999999999999999"};
static const uint8_t bytes[] = {0,   0xff, 0x7f, 0x80, 0xc0, 0xe0, '"', '\\', '{', '}', '[', ']',
                                ',', ':',  '-',  '*',  ';',  '<',  '>', '=',  ' ', '0', '9', 'u'};

/* Inserts src[0..n) at pos of buf (len *len, capacity cap). */
static void insert(uint8_t *buf, size_t *len, size_t cap, size_t pos, const void *src, size_t n)
{
    if (*len + n > cap)
        n = cap - *len;
    memmove(buf + pos + n, buf + pos, *len - pos);
    memcpy(buf + pos, src, n);
    *len += n;
}

static void mutate(uint8_t *buf, size_t *len, size_t cap)
{
    size_t pos = below(*len + 1), n, i;
    const struct input *other;
    size_t ndict = 0;

    if (wb_fuzz_dict)
        while (wb_fuzz_dict[ndict])
            ndict++;
    switch (below(9)) {
    case 0: /* flip a bit */
        if (*len)
            buf[below(*len)] ^= (uint8_t)(1u << below(8));
        break;
    case 1: /* an interesting byte */
        if (*len)
            buf[below(*len)] = bytes[below(sizeof(bytes))];
        break;
    case 2: /* random bytes */
        for (n = 1 + below(8), i = 0; i < n && *len < cap; i++) {
            uint8_t b = (uint8_t)rnd();

            insert(buf, len, cap, pos, &b, 1);
        }
        break;
    case 3: /* delete a range */
        if (*len) {
            pos = below(*len);
            n = 1 + below(*len - pos < 16 ? *len - pos : 16);
            memmove(buf + pos, buf + pos + n, *len - pos - n);
            *len -= n;
        }
        break;
    case 4: /* duplicate a range */
        if (*len) {
            size_t from = below(*len);
            uint8_t tmp[64];

            n = 1 + below(*len - from < sizeof(tmp) ? *len - from : sizeof(tmp));
            memcpy(tmp, buf + from, n);
            insert(buf, len, cap, pos, tmp, n);
        }
        break;
    case 5: /* a dictionary token */
    case 6:
        if (ndict) {
            const char *t = wb_fuzz_dict[below(ndict)];

            insert(buf, len, cap, pos, t, strlen(t));
        }
        break;
    case 7: /* a number replaced by an interesting one */
        for (i = below(*len + 1); i < *len && (buf[i] < '0' || buf[i] > '9'); i++)
            ;
        if (i < *len) {
            const char *num = numbers[below(sizeof(numbers) / sizeof(numbers[0]))];

            for (n = i; n < *len && buf[n] >= '0' && buf[n] <= '9'; n++)
                ;
            memmove(buf + i, buf + n, *len - n);
            *len -= n - i;
            insert(buf, len, cap, i, num, strlen(num));
        }
        break;
    default: /* splice: our prefix, another entry's suffix */
        other = &corpus[below(ncorpus)];
        if (other->len) {
            size_t from = below(other->len);

            *len = pos;
            insert(buf, len, cap, *len, other->data + from, other->len - from);
        }
        break;
    }
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    double seconds = 10, t0, elapsed;
    unsigned long long runs = 0, max_runs = ~0ULL;
    size_t max_len = 4096, seeds, edges = 0, i;
    const char *outdir = NULL;
    const char *name = wb_fuzz_name ? wb_fuzz_name : "target";
    uint8_t *buf;
    int opt;

    rng_state = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    while ((opt = getopt(argc, argv, "t:r:s:m:o:")) != -1) {
        switch (opt) {
        case 't':
            seconds = atof(optarg);
            break;
        case 'r':
            max_runs = strtoull(optarg, NULL, 10);
            break;
        case 's':
            rng_state = strtoull(optarg, NULL, 10);
            break;
        case 'm':
            max_len = strtoul(optarg, NULL, 10);
            break;
        case 'o':
            outdir = optarg;
            break;
        default:
            fprintf(stderr,
                    "usage: %s [-t s] [-r runs] [-s seed] [-m max_len] [-o dir] corpus...\n",
                    argv[0]);
            return 2;
        }
    }
    if (optind >= argc || max_len == 0) {
        fprintf(stderr, "%s: give at least one corpus directory or file\n", argv[0]);
        return 2;
    }
    if (rng_state == 0)
        rng_state = 1;
    snprintf(crash_path, sizeof(crash_path), "crash-%s-%llu.bin", name,
             (unsigned long long)rng_state);
    printf("wb-fuzz %s: seed %llu (rerun with -s %llu)\n", name, (unsigned long long)rng_state,
           (unsigned long long)rng_state);
    fflush(stdout);
    __sanitizer_set_death_callback(save_current);
    signal(SIGABRT, on_signal);
    signal(SIGSEGV, on_signal);
    signal(SIGBUS, on_signal);
    signal(SIGFPE, on_signal);
    for (i = optind; i < (size_t)argc; i++)
        load(argv[i], max_len);
    seeds = ncorpus;
    if (!seeds)
        add_corpus((const uint8_t *)"", 0);
    buf = malloc(max_len);
    t0 = now_s();
    for (;;) {
        const struct input *in;
        size_t len, k, nmut;

        if (runs >= max_runs)
            break;
        if ((runs & 63) == 0 && now_s() - t0 >= seconds)
            break;
        in = &corpus[below(ncorpus)];
        len = in->len < max_len ? in->len : max_len;
        memcpy(buf, in->data, len);
        for (k = 0, nmut = 1 + below(4); k < nmut; k++)
            mutate(buf, &len, max_len);
        runs++;
        if (run_one(buf, len)) {
            add_corpus(buf, len);
            if (outdir) {
                char path[512];
                FILE *f;

                snprintf(path, sizeof(path), "%s/%s-%06zu", outdir, name, ncorpus);
                f = fopen(path, "wb");
                if (f) {
                    fwrite(buf, 1, len, f);
                    fclose(f);
                }
            }
        }
    }
    elapsed = now_s() - t0;
    for (i = 0; i < MAP_SIZE; i++)
        edges += seen[i] != 0;
    printf("wb-fuzz %s: %llu execs in %.1f s (%.0f execs/s), corpus %zu seeds -> %zu, %zu edges, "
           "no finding\n",
           name, runs, elapsed, elapsed > 0 ? (double)runs / elapsed : 0.0, seeds, ncorpus, edges);
    for (i = 0; i < ncorpus; i++)
        free(corpus[i].data);
    free(buf);
    return 0;
}
