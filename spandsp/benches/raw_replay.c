/*
 * raw_replay: the C half of the `channels` benchmark (spandsp/benches/channels.rs).
 *
 * Replays a recording made by the Rust bench into N fresh raw libspandsp instances,
 * configured exactly like the Rust wrappers configure theirs, and prints the process CPU
 * time read once around the whole replay (creation, every tick, teardown).
 *
 * Usage: raw_replay MODE RECORDING N OUT_DIR [SEND_TIFF]
 *   MODE: audio-rx | audio-tx | t38-rx | gateway
 * Prints "cpu_seconds <s> ok <k>"; exits 2 unless all N instances finished properly
 * (completion code 0 and 3 pages; gateway: a DCN passed).
 *
 * Recording format (little-endian): magic "FXREC1\0\0", u8 has_audio, u32 ticks, then per
 * tick: 160 x i16 if has_audio, u16 ifp_count, then per IFP u16 seq, u16 len, len bytes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <spandsp.h>

#define TICK 160
#define PAGES 3
#define SENDER_IDENT "+1 555 0100"
#define RECEIVER_IDENT "+1 555 0199"
#define LOG_LEVEL (SPAN_LOG_NONE | SPAN_LOG_SHOW_TAG | SPAN_LOG_SHOW_PROTOCOL)

typedef struct
{
    uint16_t seq;
    uint16_t len;
    const uint8_t *data;
} ifp_t;

typedef struct
{
    int has_audio;
    uint32_t ticks;
    int16_t *audio;     /* ticks x TICK samples */
    uint32_t *ifp_first; /* ticks + 1 offsets into ifps */
    ifp_t *ifps;
    uint8_t *raw;
} recording_t;

/* What the callbacks of one instance saw. */
typedef struct
{
    int pages_is_tx;
    int finished;
    int code;
    int pages;
    int negotiations;
    int saw_dcn;
} outcome_t;

static void die(const char *msg)
{
    fprintf(stderr, "raw_replay: %s\n", msg);
    exit(1);
}

static uint16_t get_u16(const uint8_t *p) { return (uint16_t) (p[0] | (p[1] << 8)); }

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t) p[0] | ((uint32_t) p[1] << 8) | ((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}

static void read_recording(const char *path, recording_t *rec)
{
    FILE *f = fopen(path, "rb");
    long size;
    size_t pos;
    size_t n_ifps = 0;
    size_t cap = 1024;
    uint32_t t;

    if (f == NULL)
        die("cannot open the recording");
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    rec->raw = malloc((size_t) size);
    if (rec->raw == NULL || fread(rec->raw, 1, (size_t) size, f) != (size_t) size)
        die("cannot read the recording");
    fclose(f);
    if (size < 13 || memcmp(rec->raw, "FXREC1\0\0", 8) != 0)
        die("not a recording");
    rec->has_audio = rec->raw[8];
    rec->ticks = get_u32(rec->raw + 9);
    pos = 13;
    rec->audio = calloc((size_t) rec->ticks * TICK, sizeof(int16_t));
    rec->ifp_first = calloc((size_t) rec->ticks + 1, sizeof(uint32_t));
    rec->ifps = malloc(cap * sizeof(ifp_t));
    if (rec->audio == NULL || rec->ifp_first == NULL || rec->ifps == NULL)
        die("out of memory");
    for (t = 0; t < rec->ticks; t++)
    {
        uint16_t count;
        uint16_t i;

        if (rec->has_audio)
        {
            if (pos + 2 * TICK > (size_t) size)
                die("truncated recording");
            for (i = 0; i < TICK; i++)
                rec->audio[(size_t) t * TICK + i] = (int16_t) get_u16(rec->raw + pos + 2 * i);
            pos += 2 * TICK;
        }
        if (pos + 2 > (size_t) size)
            die("truncated recording");
        count = get_u16(rec->raw + pos);
        pos += 2;
        rec->ifp_first[t] = (uint32_t) n_ifps;
        for (i = 0; i < count; i++)
        {
            if (pos + 4 > (size_t) size)
                die("truncated recording");
            if (n_ifps == cap)
            {
                cap *= 2;
                rec->ifps = realloc(rec->ifps, cap * sizeof(ifp_t));
                if (rec->ifps == NULL)
                    die("out of memory");
            }
            rec->ifps[n_ifps].seq = get_u16(rec->raw + pos);
            rec->ifps[n_ifps].len = get_u16(rec->raw + pos + 2);
            rec->ifps[n_ifps].data = rec->raw + pos + 4;
            pos += 4 + rec->ifps[n_ifps].len;
            if (pos > (size_t) size)
                die("truncated recording");
            n_ifps++;
        }
    }
    rec->ifp_first[rec->ticks] = (uint32_t) n_ifps;
}

static double cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static int phase_b(t30_state_t *s, void *user_data, int result)
{
    (void) s;
    (void) result;
    ((outcome_t *) user_data)->negotiations++;
    return T30_ERR_OK;
}

static int phase_d(t30_state_t *s, void *user_data, int result)
{
    t30_stats_t stats;

    (void) result;
    (void) user_data;
    t30_get_transfer_statistics(s, &stats);
    return T30_ERR_OK;
}

static void phase_e(t30_state_t *s, void *user_data, int completion_code)
{
    outcome_t *o = user_data;
    t30_stats_t stats;

    t30_get_transfer_statistics(s, &stats);
    o->finished = 1;
    o->code = completion_code;
    o->pages = o->pages_is_tx ? stats.pages_tx : stats.pages_rx;
}

/* IFPs a replayed instance sends go nowhere. */
static int drop_ifp(t38_core_state_t *s, void *user_data, const uint8_t *buf, int len, int count)
{
    (void) s;
    (void) user_data;
    (void) buf;
    (void) len;
    (void) count;
    return 0;
}

static void on_frame(t38_gateway_state_t *s, void *user_data, int direction, const uint8_t *msg, int len)
{
    (void) s;
    (void) direction;
    if (len >= 3 && (msg[2] & 0xFE) == T30_DCN)
        ((outcome_t *) user_data)->saw_dcn = 1;
}

/* The same T.30 settings T30Config { ecm: false, modems: ALL, log_level: None, .. } applies. */
static void configure_t30(t30_state_t *t30, outcome_t *o, const char *ident, const char *tx_file,
                          const char *rx_file)
{
    t30_set_phase_b_handler(t30, phase_b, o);
    t30_set_phase_d_handler(t30, phase_d, o);
    t30_set_phase_e_handler(t30, phase_e, o);
    t30_set_tx_ident(t30, ident);
    t30_set_tx_page_header_info(t30, NULL);
    t30_set_ecm_capability(t30, 0);
    t30_set_supported_modems(t30, T30_SUPPORT_V27TER | T30_SUPPORT_V29 | T30_SUPPORT_V17);
    t30_set_supported_compressions(t30, T30_SUPPORT_T4_1D_COMPRESSION | T30_SUPPORT_T4_2D_COMPRESSION
                                            | T30_SUPPORT_T6_COMPRESSION);
    t30_set_rx_encoding(t30, T4_COMPRESSION_ITU_T6);
    if (tx_file)
        t30_set_tx_file(t30, tx_file, -1, -1);
    if (rx_file)
        t30_set_rx_file(t30, rx_file, -1);
    span_log_set_level(t30_get_logging_state(t30), LOG_LEVEL);
    span_log_set_tag(t30_get_logging_state(t30), "fax");
}

static void configure_core(t38_core_state_t *core, const char *tag)
{
    t38_set_t38_version(core, 0);
    t38_set_max_buffer_size(core, 400);
    t38_set_max_datagram_size(core, 176);
    t38_set_fill_bit_removal(core, 0);
    span_log_set_level(t38_core_get_logging_state(core), LOG_LEVEL);
    span_log_set_tag(t38_core_get_logging_state(core), tag);
}

enum mode
{
    AUDIO_RX,
    AUDIO_TX,
    T38_RX,
    GATEWAY
};

/* Creates n instances, steps all of them through every tick, checks and frees them;
 * returns how many finished properly. Kept out of line so profilers can isolate it. */
static __attribute__((noinline)) int replay(enum mode mode, const recording_t *rec, int n, const char *dir,
                                            const char *send_tiff)
{
    int audio_rx = mode == AUDIO_RX;
    int audio_tx = mode == AUDIO_TX;
    int t38_rx = mode == T38_RX;
    int gateway = mode == GATEWAY;
    outcome_t *outcomes = calloc((size_t) n, sizeof(outcome_t));
    void **states = calloc((size_t) n, sizeof(void *));
    int16_t out[TICK];
    int16_t in[TICK];
    char path[1024];
    int ok = 0;
    int i;
    uint32_t t;

    if (outcomes == NULL || states == NULL)
        die("out of memory");
    for (i = 0; i < n; i++)
    {
        snprintf(path, sizeof(path), "%s/rx-%d.tif", dir, i);
        outcomes[i].pages_is_tx = audio_tx;
        if (audio_rx || audio_tx)
        {
            fax_state_t *s = fax_init(NULL, audio_tx);

            if (s == NULL)
                die("fax_init failed");
            configure_t30(fax_get_t30_state(s), &outcomes[i], audio_tx ? SENDER_IDENT : RECEIVER_IDENT,
                          audio_tx ? send_tiff : NULL, audio_tx ? NULL : path);
            span_log_set_level(fax_get_logging_state(s), LOG_LEVEL);
            span_log_set_tag(fax_get_logging_state(s), "fax");
            states[i] = s;
        }
        else if (t38_rx)
        {
            t38_terminal_state_t *s = t38_terminal_init(NULL, 0, drop_ifp, &outcomes[i]);

            if (s == NULL)
                die("t38_terminal_init failed");
            configure_t30(t38_terminal_get_t30_state(s), &outcomes[i], RECEIVER_IDENT, NULL, path);
            t38_terminal_set_config(s, 0);
            t38_terminal_set_fill_bit_removal(s, 0);
            configure_core(t38_terminal_get_t38_core_state(s), "fax");
            span_log_set_level(t38_terminal_get_logging_state(s), LOG_LEVEL);
            span_log_set_tag(t38_terminal_get_logging_state(s), "fax");
            states[i] = s;
        }
        else
        {
            t38_gateway_state_t *s = t38_gateway_init(NULL, drop_ifp, &outcomes[i]);

            if (s == NULL)
                die("t38_gateway_init failed");
            t38_gateway_set_ecm_capability(s, 0);
            t38_gateway_set_supported_modems(s, T30_SUPPORT_V27TER | T30_SUPPORT_V29 | T30_SUPPORT_V17);
            t38_gateway_set_fill_bit_removal(s, 0);
            t38_gateway_set_real_time_frame_handler(s, on_frame, &outcomes[i]);
            configure_core(t38_gateway_get_t38_core_state(s), "gateway");
            span_log_set_level(t38_gateway_get_logging_state(s), LOG_LEVEL);
            span_log_set_tag(t38_gateway_get_logging_state(s), "gateway");
            states[i] = s;
        }
    }

    for (t = 0; t < rec->ticks; t++)
    {
        const int16_t *audio = rec->audio + (size_t) t * TICK;
        uint32_t first = rec->ifp_first[t];
        uint32_t last = rec->ifp_first[t + 1];
        uint32_t k;

        for (i = 0; i < n; i++)
        {
            if (audio_rx || audio_tx)
            {
                fax_state_t *s = states[i];
                int produced = fax_tx(s, out, TICK);

                if (produced < TICK)
                    memset(out + produced, 0, sizeof(int16_t) * (size_t) (TICK - produced));
                /* fax_rx changes its input in place (DC restore), so each instance gets a copy. */
                memcpy(in, audio, sizeof(in));
                fax_rx(s, in, TICK);
            }
            else if (t38_rx)
            {
                t38_terminal_state_t *s = states[i];

                t38_terminal_send_timeout(s, TICK);
                for (k = first; k < last; k++)
                    t38_core_rx_ifp_packet(t38_terminal_get_t38_core_state(s), rec->ifps[k].data,
                                           rec->ifps[k].len, rec->ifps[k].seq);
            }
            else
            {
                t38_gateway_state_t *s = states[i];
                int produced;

                memcpy(in, audio, sizeof(in));
                t38_gateway_rx(s, in, TICK);
                produced = t38_gateway_tx(s, out, TICK);
                if (produced < TICK)
                    memset(out + produced, 0, sizeof(int16_t) * (size_t) (TICK - produced));
                for (k = first; k < last; k++)
                    t38_core_rx_ifp_packet(t38_gateway_get_t38_core_state(s), rec->ifps[k].data,
                                           rec->ifps[k].len, rec->ifps[k].seq);
            }
        }
    }

    for (i = 0; i < n; i++)
    {
        if (gateway)
        {
            ok += outcomes[i].saw_dcn;
            t38_gateway_free(states[i]);
        }
        else
        {
            if (outcomes[i].finished && outcomes[i].code == T30_ERR_OK && outcomes[i].pages == PAGES)
                ok++;
            if (t38_rx)
            {
                t30_terminate(t38_terminal_get_t30_state(states[i]));
                t38_terminal_free(states[i]);
            }
            else
            {
                t30_terminate(fax_get_t30_state(states[i]));
                fax_free(states[i]);
            }
        }
    }
    free(states);
    free(outcomes);
    return ok;
}

int main(int argc, char *argv[])
{
    static const char *const names[] = {"audio-rx", "audio-tx", "t38-rx", "gateway"};
    recording_t rec;
    const char *send_tiff;
    int mode = -1;
    int n;
    int ok;
    int i;
    double start;
    double cpu;

    if (argc < 5)
        die("usage: raw_replay MODE RECORDING N OUT_DIR [SEND_TIFF]");
    for (i = 0; i < 4; i++)
    {
        if (strcmp(argv[1], names[i]) == 0)
            mode = i;
    }
    n = atoi(argv[3]);
    send_tiff = argc > 5 ? argv[5] : NULL;
    if (mode < 0 || n < 1)
        die("bad MODE or N");
    if (mode == AUDIO_TX && send_tiff == NULL)
        die("audio-tx needs SEND_TIFF");
    read_recording(argv[2], &rec);
    if (rec.has_audio != (mode != T38_RX))
        die("the recording does not match MODE");

    start = cpu_seconds();
    ok = replay((enum mode) mode, &rec, n, argv[4], send_tiff);
    cpu = cpu_seconds() - start;

    printf("cpu_seconds %.6f ok %d\n", cpu, ok);
    return ok == n ? 0 : 2;
}
