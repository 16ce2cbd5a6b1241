/*
 * wb_err: the error classes of docs/errors.md. An operation returns a wb_err_t whose class says
 * what the caller does next: retry, dead-letter, bounded retry, or exit. Detail text is
 * logged once, where the failure is detected.
 */
#ifndef WB_ERR_H
#define WB_ERR_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

typedef enum {
    WB_OK = 0,
    WB_ERR_TRANSIENT,  /* server down, busy, timeout: retry with backoff, never dead-letter */
    WB_ERR_DEPENDENCY, /* nested group not yet created, unknown SID: bounded retry */
    WB_ERR_CONFLICT,   /* object we do not own is in the way, duplicate anchors: dead letter */
    WB_ERR_INVALID,    /* poison: undecodable or invalid event: dead letter */
    WB_ERR_FATAL,      /* bad credentials, bad config: exit non-zero */
} wb_err_t;

/* "ok", "transient", "dependency", "conflict", "invalid", "fatal". Never NULL. */
const char *wb_err_name(wb_err_t err);

/* Writes the printf-formatted reason into reason[0..reasonsz) (nothing when reason is NULL or
 * reasonsz 0) and returns WB_ERR_INVALID: the one-line refusal of the decoders. */
wb_err_t wb_err_invalid(char *reason, size_t reasonsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Class of an LDAP result code (LDAP_SUCCESS → WB_OK). */
wb_err_t wb_err_from_ldap(int ldap_rc);

/* Class of a librdkafka error (RD_KAFKA_RESP_ERR_NO_ERROR → WB_OK). */
wb_err_t wb_err_from_kafka(rd_kafka_resp_err_t err);

#endif
