/* qemu_icount.c: a QEMU TCG plugin that counts the arm64 instructions a
 * program executes under qemu-aarch64, and how many of them are SIMD&FP
 * (Advanced SIMD and floating point, data processing and loads/stores).
 *
 *   qemu-aarch64 -cpu cortex-a76 -plugin build/bench/qemu_icount.so,out=FILE prog args
 *
 * FILE gets one line at exit: "icount TOTAL SIMD_DP SIMD_LDST".  Wall time
 * under emulation says nothing about a board; the count is deterministic
 * and compares two implementations of the same work (make bench-arm64 runs
 * lcnet-infer twice with different frame counts and divides the
 * difference).  The counters are plain inline adds, exact for one guest
 * thread: the bench runs single-threaded.
 *
 * Debian ships no qemu-plugin.h: what follows declares the few calls of
 * plugin API version 1 (QEMU 4.2 to 8.x) that this file uses. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------ plugin API v1 */
#define PLUGIN_EXPORT __attribute__((visibility("default")))
typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;      /* not read here */
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
                                           void (*cb)(qemu_plugin_id_t, struct qemu_plugin_tb *));
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op,
                                              void *ptr, uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, void (*cb)(qemu_plugin_id_t, void *),
                                    void *userdata);
void qemu_plugin_outs(const char *string);

PLUGIN_EXPORT int qemu_plugin_version = 1;
/* --------------------------------------------------------------------- */

static uint64_t total, simd_dp, simd_ldst;
static char out_path[4096];

/* The A64 encoding's top-level groups (op0, bits 28:25): x111 is "data
 * processing, scalar floating point and Advanced SIMD"; x1x0 is loads and
 * stores, of SIMD&FP registers when bit 26 is set. */
static int is_simd_dp(uint32_t w)
{
    return ((w >> 25) & 7u) == 7u;
}

static int is_simd_ldst(uint32_t w)
{
    return ((w >> 25) & 5u) == 4u && (w >> 26 & 1u);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    uint64_t dp = 0, ls = 0;
    for (size_t i = 0; i < n; i++) {
        const struct qemu_plugin_insn *in = qemu_plugin_tb_get_insn(tb, i);
        uint32_t w = 0;
        if (qemu_plugin_insn_size(in) != 4)
            continue;
        memcpy(&w, qemu_plugin_insn_data(in), 4);
        dp += (uint64_t)is_simd_dp(w);
        ls += (uint64_t)is_simd_ldst(w);
    }
    /* counted once per execution of the block, not per instruction */
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &total, n);
    if (dp)
        qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &simd_dp, dp);
    if (ls)
        qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &simd_ldst, ls);
}

static void at_exit(qemu_plugin_id_t id, void *arg)
{
    (void)id;
    (void)arg;
    char line[128];
    snprintf(line, sizeof line, "icount %llu %llu %llu\n", (unsigned long long)total,
             (unsigned long long)simd_dp, (unsigned long long)simd_ldst);
    FILE *f = out_path[0] ? fopen(out_path, "w") : NULL;
    if (f) {
        fputs(line, f);
        fclose(f);
    } else {
        qemu_plugin_outs(line);
    }
}

PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                      char **argv);
PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                      char **argv)
{
    (void)info;
    for (int i = 0; i < argc; i++) {
        if (!strncmp(argv[i], "out=", 4)) {
            snprintf(out_path, sizeof out_path, "%s", argv[i] + 4);
        } else {
            fprintf(stderr, "qemu_icount: unknown argument '%s' (out=FILE is the only one)\n",
                    argv[i]);
            return -1;
        }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
