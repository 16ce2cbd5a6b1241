/*
 * wb_err: map LDAP result codes and librdkafka errors onto the classes of docs/errors.md.
 * The LDAP table follows AD's answers (docs/microsoft.md): 68 is a conflict (DN or sAMAccountName
 * taken), 32 on a reference is a dependency, busy/unavailable/timeouts are transient, bad
 * credentials are fatal.
 */
#include "wb_err.h"

#include <ldap.h>
#include <stdarg.h>
#include <stdio.h>

const char *wb_err_name(wb_err_t err)
{
    switch (err) {
    case WB_OK:
        return "ok";
    case WB_ERR_TRANSIENT:
        return "transient";
    case WB_ERR_DEPENDENCY:
        return "dependency";
    case WB_ERR_CONFLICT:
        return "conflict";
    case WB_ERR_INVALID:
        return "invalid";
    case WB_ERR_FATAL:
        return "fatal";
    }
    return "unknown";
}

wb_err_t wb_err_from_ldap(int rc)
{
    switch (rc) {
    case LDAP_SUCCESS:
    case LDAP_COMPARE_TRUE:
    case LDAP_COMPARE_FALSE:
        return WB_OK;

    /* The server or the path to it is not there now: retry. */
    case LDAP_SERVER_DOWN:
    case LDAP_CONNECT_ERROR:
    case LDAP_TIMEOUT:
    case LDAP_TIMELIMIT_EXCEEDED:
    case LDAP_BUSY:
    case LDAP_UNAVAILABLE:
    case LDAP_ADMINLIMIT_EXCEEDED:
    case LDAP_OTHER:
    case LDAP_LOOP_DETECT:
    case LDAP_NO_MEMORY:
    case LDAP_LOCAL_ERROR:
    case LDAP_SIZELIMIT_EXCEEDED:
        return WB_ERR_TRANSIENT;

    /* A referenced object (member, parent) does not exist yet. */
    case LDAP_NO_SUCH_OBJECT:
        return WB_ERR_DEPENDENCY;

    /* Something we do not own is in the way, or AD refuses this change. */
    case LDAP_ALREADY_EXISTS:
    case LDAP_TYPE_OR_VALUE_EXISTS:
    case LDAP_CONSTRAINT_VIOLATION:
    case LDAP_UNWILLING_TO_PERFORM:
    case LDAP_NOT_ALLOWED_ON_NONLEAF:
    case LDAP_NOT_ALLOWED_ON_RDN:
    case LDAP_NO_SUCH_ATTRIBUTE:
    case LDAP_AFFECTS_MULTIPLE_DSAS:
        return WB_ERR_CONFLICT;

    /* The request itself is malformed: the event that produced it is poison. */
    case LDAP_INVALID_DN_SYNTAX:
    case LDAP_INVALID_SYNTAX:
    case LDAP_UNDEFINED_TYPE:
    case LDAP_OBJECT_CLASS_VIOLATION:
    case LDAP_NAMING_VIOLATION:
    case LDAP_INAPPROPRIATE_MATCHING:
    case LDAP_FILTER_ERROR:
    case LDAP_ENCODING_ERROR:
    case LDAP_DECODING_ERROR:
    case LDAP_PARAM_ERROR:
        return WB_ERR_INVALID;

    /* Configuration or credentials: nothing a retry fixes. */
    case LDAP_INVALID_CREDENTIALS:
    case LDAP_INAPPROPRIATE_AUTH:
    case LDAP_STRONG_AUTH_REQUIRED:
    case LDAP_CONFIDENTIALITY_REQUIRED:
    case LDAP_AUTH_METHOD_NOT_SUPPORTED:
    case LDAP_INSUFFICIENT_ACCESS:
    case LDAP_AUTH_UNKNOWN:
    case LDAP_NOT_SUPPORTED:
    case LDAP_PROTOCOL_ERROR:
        return WB_ERR_FATAL;

    default:
        break;
    }
    /* Client-side negative codes (other than those above) are connection trouble. */
    if (rc < 0)
        return WB_ERR_TRANSIENT;
    return WB_ERR_CONFLICT;
}

wb_err_t wb_err_from_kafka(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return WB_OK;
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__NOT_CONFIGURED:
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
        return WB_ERR_FATAL;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
        return WB_ERR_INVALID;
    default:
        return WB_ERR_TRANSIENT;
    }
}

wb_err_t wb_err_invalid(char *reason, size_t reasonsz, const char *fmt, ...)
{
    va_list ap;

    if (reason && reasonsz) {
        va_start(ap, fmt);
        vsnprintf(reason, reasonsz, fmt, ap);
        va_end(ap);
    }
    return WB_ERR_INVALID;
}
