/*
 * NVMe and NVMe/TCP on-wire structures, with the specification's names.
 *
 * Sources: NVM Express Base Specification 2.0, NVMe over Fabrics 1.1,
 * NVMe/TCP Transport Specification 1.0, Zoned Namespace Command Set 1.1.
 * Every structure that crosses the wire or is returned to the host has its
 * size checked at compile time.  All multi-byte fields are little-endian;
 * nvemu only runs on little-endian hosts (checked below).
 */
#ifndef NVEMU_SPEC_NVME_H
#define NVEMU_SPEC_NVME_H

#include <assert.h>
#include <stdint.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "nvemu maps NVMe structures directly and needs a little-endian CPU"
#endif

#define NVME_PACKED __attribute__((packed))

/* ------------------------------------------------------------------ */
/* NVMe/TCP PDUs (NVMe/TCP Transport Specification 1.0, section 3)     */
/* ------------------------------------------------------------------ */

enum nvme_tcp_pdu_type {
	NVME_TCP_ICREQ = 0x00,
	NVME_TCP_ICRESP = 0x01,
	NVME_TCP_H2C_TERM = 0x02,
	NVME_TCP_C2H_TERM = 0x03,
	NVME_TCP_CMD = 0x04,
	NVME_TCP_RSP = 0x05,
	NVME_TCP_H2C_DATA = 0x06,
	NVME_TCP_C2H_DATA = 0x07,
	NVME_TCP_R2T = 0x09,
};

enum nvme_tcp_pdu_flags {
	NVME_TCP_F_HDGST = 1u << 0,
	NVME_TCP_F_DDGST = 1u << 1,
	NVME_TCP_F_DATA_LAST = 1u << 2,
	NVME_TCP_F_DATA_SUCCESS = 1u << 3,
};

enum nvme_tcp_digest_option {
	NVME_TCP_HDR_DIGEST_ENABLE = 1u << 0,
	NVME_TCP_DATA_DIGEST_ENABLE = 1u << 1,
};

/* Fatal Error Status of a termination request. */
enum nvme_tcp_fatal_error_status {
	NVME_TCP_FES_INVALID_PDU_HDR = 0x01,
	NVME_TCP_FES_PDU_SEQ_ERR = 0x02,
	NVME_TCP_FES_HDR_DIGEST_ERR = 0x03,
	NVME_TCP_FES_DATA_OUT_OF_RANGE = 0x04,
	NVME_TCP_FES_R2T_LIMIT_EXCEEDED = 0x05,
	NVME_TCP_FES_DATA_LIMIT_EXCEEDED = 0x05,
	NVME_TCP_FES_UNSUPPORTED_PARAM = 0x06,
};

#define NVME_TCP_DIGEST_LEN 4
#define NVME_TCP_TERM_MAX_HDR_ERR 152

struct nvme_tcp_hdr {
	uint8_t type;
	uint8_t flags;
	uint8_t hlen;
	uint8_t pdo;
	uint32_t plen;
} NVME_PACKED;
static_assert(sizeof(struct nvme_tcp_hdr) == 8, "common header");

struct nvme_tcp_icreq_pdu {
	struct nvme_tcp_hdr hdr;
	uint16_t pfv;
	uint8_t hpda;
	uint8_t digest;
	uint32_t maxr2t;
	uint8_t rsvd2[112];
} NVME_PACKED;
static_assert(sizeof(struct nvme_tcp_icreq_pdu) == 128, "ICReq");

struct nvme_tcp_icresp_pdu {
	struct nvme_tcp_hdr hdr;
	uint16_t pfv;
	uint8_t cpda;
	uint8_t digest;
	uint32_t maxdata;
	uint8_t rsvd[112];
} NVME_PACKED;
static_assert(sizeof(struct nvme_tcp_icresp_pdu) == 128, "ICResp");

struct nvme_tcp_term_pdu {
	struct nvme_tcp_hdr hdr;
	uint16_t fes;
	uint32_t fei;
	uint8_t rsvd[10];
} NVME_PACKED;
static_assert(sizeof(struct nvme_tcp_term_pdu) == 24, "TermReq");

struct nvme_tcp_data_pdu {
	struct nvme_tcp_hdr hdr;
	uint16_t command_id;
	uint16_t ttag;
	uint32_t data_offset;
	uint32_t data_length;
	uint8_t rsvd[4];
} NVME_PACKED;
static_assert(sizeof(struct nvme_tcp_data_pdu) == 24, "H2CData/C2HData");

struct nvme_tcp_r2t_pdu {
	struct nvme_tcp_hdr hdr;
	uint16_t command_id;
	uint16_t ttag;
	uint32_t r2t_offset;
	uint32_t r2t_length;
	uint8_t rsvd[4];
} NVME_PACKED;
static_assert(sizeof(struct nvme_tcp_r2t_pdu) == 24, "R2T");

/* ------------------------------------------------------------------ */
/* Submission and completion queue entries                             */
/* ------------------------------------------------------------------ */

enum nvme_sgl_descriptor_type {
	NVME_SGL_TYPE_DATA_BLOCK = 0x0,
	NVME_SGL_TYPE_TRANSPORT_DATA_BLOCK = 0x5,
};

enum nvme_sgl_descriptor_subtype {
	NVME_SGL_SUBTYPE_ADDRESS = 0x0,
	NVME_SGL_SUBTYPE_OFFSET = 0x1,
	NVME_SGL_SUBTYPE_TRANSPORT = 0xA,
};

/* The identifier byte: type in bits 7:4, subtype in bits 3:0. */
#define NVME_SGL_ID(type, subtype) ((uint8_t)((type) << 4 | (subtype)))
#define NVME_SGL_IN_CAPSULE NVME_SGL_ID(NVME_SGL_TYPE_DATA_BLOCK, NVME_SGL_SUBTYPE_OFFSET)
#define NVME_SGL_TRANSPORT_DATA                                                                    \
	NVME_SGL_ID(NVME_SGL_TYPE_TRANSPORT_DATA_BLOCK, NVME_SGL_SUBTYPE_TRANSPORT)

struct nvme_sgl_desc {
	uint64_t addr;
	uint32_t length;
	uint8_t rsvd[3];
	uint8_t type;
} NVME_PACKED;
static_assert(sizeof(struct nvme_sgl_desc) == 16, "SGL descriptor");

/* CDW0 flags: PSDT in bits 7:6 of byte 1. */
#define NVME_CMD_PSDT_MASK 0xC0
#define NVME_CMD_PSDT_SGL_MPTR_CONTIG 0x40

/*
 * Command Dwords 10..15 as each command names them, so the controller reads
 * cmd.rw.slba rather than cdw11 << 32 | cdw10, and a failed check can name
 * the byte it is about (the error log's Parameter Error Location).
 */

/* Read, Write, Compare, Write Zeroes, Verify (NVM Command Set 1.0) and Zone Append (ZNS 1.1). */
struct nvme_rw_fields {
	uint64_t slba;    /* Starting LBA; Zone Append: ZSLBA, the zone's first LBA */
	uint16_t nlb;     /* Number of Logical Blocks, 0's based */
	uint16_t control; /* NVME_RW_CONTROL_*: FUA, LR, DTYPE in bits 7:4 (CDW12 23:20) */
	uint8_t dsm;      /* Dataset Management hints */
	uint8_t rsvd13;
	uint16_t dspec; /* Directive Specific: with DTYPE 2, the Placement Identifier */
	uint32_t reftag;
	uint16_t apptag;
	uint16_t appmask;
} NVME_PACKED;
static_assert(sizeof(struct nvme_rw_fields) == 24, "Read/Write CDW10-15");
#define NVME_RW_CONTROL_FUA (1u << 14)
#define NVME_RW_CONTROL_LR (1u << 15)
#define NVME_RW_CONTROL_DTYPE_SHIFT 4
#define NVME_RW_CONTROL_DTYPE_MASK (0xFu << NVME_RW_CONTROL_DTYPE_SHIFT)

/* Directive types (Base 2.0, 8.7; TP4146 adds Data Placement). */
enum nvme_directive_type {
	NVME_DIRECTIVE_IDENTIFY = 0x0,
	NVME_DIRECTIVE_STREAMS = 0x1,
	NVME_DIRECTIVE_DATA_PLACEMENT = 0x2,
};

struct nvme_dsm_fields {
	uint8_t nr; /* Number of Ranges, 0's based */
	uint8_t rsvd10[3];
	uint32_t attributes; /* NVME_DSM_ATTR_* */
	uint32_t rsvd12[4];
} NVME_PACKED;
static_assert(sizeof(struct nvme_dsm_fields) == 24, "Dataset Management CDW10-15");
#define NVME_DSM_ATTR_AD (1u << 2) /* Deallocate */

struct nvme_zone_mgmt_send_fields {
	uint64_t slba;
	uint32_t rsvd12;
	uint8_t zsa;     /* Zone Send Action: enum nvme_zone_send_action */
	uint8_t zsflags; /* NVME_ZONE_SEND_* */
	uint8_t rsvd13[2];
	uint32_t rsvd14[2];
} NVME_PACKED;
static_assert(sizeof(struct nvme_zone_mgmt_send_fields) == 24, "Zone Management Send CDW10-15");

struct nvme_zone_mgmt_recv_fields {
	uint64_t slba;
	uint32_t numd;    /* Number of Dwords, 0's based */
	uint8_t zra;      /* Zone Receive Action: enum nvme_zone_recv_action */
	uint8_t zrasf;    /* Zone Receive Action Specific Field: enum nvme_zone_report_filter */
	uint8_t zraflags; /* NVME_ZONE_RECV_PARTIAL */
	uint8_t rsvd13;
	uint32_t rsvd14[2];
} NVME_PACKED;
static_assert(sizeof(struct nvme_zone_mgmt_recv_fields) == 24, "Zone Management Receive CDW10-15");

struct nvme_identify_fields {
	uint8_t cns; /* Controller or Namespace Structure: enum nvme_identify_cns */
	uint8_t rsvd10;
	uint16_t cntid;
	uint16_t cnssid; /* CNS Specific Identifier */
	uint8_t rsvd11;
	uint8_t csi; /* Command Set Identifier: enum nvme_csi */
	uint32_t rsvd12[4];
} NVME_PACKED;
static_assert(sizeof(struct nvme_identify_fields) == 24, "Identify CDW10-15");

struct nvme_get_log_page_fields {
	uint8_t lid;    /* Log Page Identifier: enum nvme_log_id */
	uint8_t lsp;    /* Log Specific Parameter in bits 6:0, RAE in bit 7 */
	uint16_t numdl; /* Number of Dwords, 0's based: NUMDU:NUMDL */
	uint16_t numdu;
	uint16_t lsi;
	uint64_t lpo; /* Log Page Offset in bytes */
	uint8_t uuid_index;
	uint8_t rsvd14[2];
	uint8_t csi;
	uint32_t rsvd15;
} NVME_PACKED;
static_assert(sizeof(struct nvme_get_log_page_fields) == 24, "Get Log Page CDW10-15");

/* Get Features and Set Features */
struct nvme_features_fields {
	uint8_t fid; /* Feature Identifier: enum nvme_feature_id */
	uint8_t sel; /* Get Features: Select in bits 2:0 (NVME_FEAT_SEL_*) */
	uint8_t rsvd10;
	uint8_t sv;       /* Set Features: Save in bit 7 */
	uint32_t dword11; /* the feature's value, as the feature defines it */
	uint32_t dword12[4];
} NVME_PACKED;
static_assert(sizeof(struct nvme_features_fields) == 24, "Get/Set Features CDW10-15");

/* I/O Management Receive and Send (NVM Command Set 1.1, TP4146). */
struct nvme_io_mgmt_fields {
	uint8_t mo; /* Management Operation: enum nvme_io_mgmt_recv_mo / _send_mo */
	uint8_t rsvd10;
	uint16_t mos;  /* Management Operation Specific; RUH Update: Number of PIDs, 0's based */
	uint32_t numd; /* Receive: Number of Dwords, 0's based */
	uint32_t rsvd12[4];
} NVME_PACKED;
static_assert(sizeof(struct nvme_io_mgmt_fields) == 24, "I/O Management CDW10-15");

enum nvme_io_mgmt_recv_mo {
	NVME_IO_MGMT_RECV_NOP = 0x0,
	NVME_IO_MGMT_RECV_RUH_STATUS = 0x1, /* Reclaim Unit Handle Status */
};

enum nvme_io_mgmt_send_mo {
	NVME_IO_MGMT_SEND_NOP = 0x0,
	NVME_IO_MGMT_SEND_RUH_UPDATE = 0x1, /* Reclaim Unit Handle Update */
};

/* Format NVM (NVMe Base 2.0, section 5.23) */
struct nvme_format_fields {
	uint8_t lbaf;	 /* LBA Format bits 3:0, MSET bit 4, PI bits 7:5 (NVME_FORMAT_*) */
	uint8_t ses;	 /* PIL bit 0, Secure Erase Settings bits 3:1, LBAF upper bits 5:4 */
	uint8_t rsvd10[2];
	uint32_t rsvd11[5];
} NVME_PACKED;
static_assert(sizeof(struct nvme_format_fields) == 24, "Format NVM CDW10-15");
#define NVME_FORMAT_LBAF_MASK 0x0Fu
#define NVME_FORMAT_PI_MASK 0xE0u
#define NVME_FORMAT_SES_SHIFT 1
#define NVME_FORMAT_SES_MASK 0x0Eu
#define NVME_FORMAT_LBAFU_MASK 0x30u

/* Fabrics commands (NVMe over Fabrics 1.1, section 3): views of the whole SQE. */
struct nvmf_common_command {
	uint8_t opcode;
	uint8_t resv1;
	uint16_t command_id;
	uint8_t fctype;
	uint8_t resv2[35];
	uint8_t ts[24];
} NVME_PACKED;
static_assert(sizeof(struct nvmf_common_command) == 64, "fabrics SQE");

#define NVMF_CONNECT_CATTR_DISABLE_SQFLOW (1u << 2)

struct nvmf_connect_command {
	uint8_t opcode;
	uint8_t resv1;
	uint16_t command_id;
	uint8_t fctype;
	uint8_t resv2[19];
	struct nvme_sgl_desc dptr;
	uint16_t recfmt;
	uint16_t qid;
	uint16_t sqsize;
	uint8_t cattr;
	uint8_t resv3;
	uint32_t kato;
	uint8_t resv4[12];
} NVME_PACKED;
static_assert(sizeof(struct nvmf_connect_command) == 64, "Connect SQE");

struct nvmf_property_get_command {
	uint8_t opcode;
	uint8_t resv1;
	uint16_t command_id;
	uint8_t fctype;
	uint8_t resv2[35];
	uint8_t attrib;
	uint8_t resv3[3];
	uint32_t offset;
	uint8_t resv4[16];
} NVME_PACKED;
static_assert(sizeof(struct nvmf_property_get_command) == 64, "Property Get SQE");

struct nvmf_property_set_command {
	uint8_t opcode;
	uint8_t resv1;
	uint16_t command_id;
	uint8_t fctype;
	uint8_t resv2[35];
	uint8_t attrib;
	uint8_t resv3[3];
	uint32_t offset;
	uint64_t value;
	uint8_t resv4[8];
} NVME_PACKED;
static_assert(sizeof(struct nvmf_property_set_command) == 64, "Property Set SQE");

/* Authentication Send and Receive (NVMe base 2.0, 6.3/6.4): SECP E9h carries DH-HMAC-CHAP. */
struct nvmf_auth_command {
	uint8_t opcode;
	uint8_t resv1;
	uint16_t command_id;
	uint8_t fctype;
	uint8_t resv2[19];
	struct nvme_sgl_desc dptr;
	uint8_t resv3;
	uint8_t spsp0;
	uint8_t spsp1;
	uint8_t secp;
	uint32_t length; /* Send: Transfer Length (TL); Receive: Allocation Length (AL) */
	uint8_t resv4[16];
} NVME_PACKED;
static_assert(sizeof(struct nvmf_auth_command) == 64, "Authentication Send/Receive SQE");

struct nvme_sqe {
	union {
		struct {
			uint8_t opcode;
			uint8_t flags;
			uint16_t command_id;
			uint32_t nsid;
			uint32_t cdw2;
			uint32_t cdw3;
			uint64_t mptr;
			struct nvme_sgl_desc dptr;
			union {
				struct {
					uint32_t cdw10;
					uint32_t cdw11;
					uint32_t cdw12;
					uint32_t cdw13;
					uint32_t cdw14;
					uint32_t cdw15;
				};
				struct nvme_rw_fields rw;
				struct nvme_dsm_fields dsm;
				struct nvme_zone_mgmt_send_fields zms;
				struct nvme_zone_mgmt_recv_fields zmr;
				struct nvme_identify_fields identify;
				struct nvme_get_log_page_fields get_log_page;
				struct nvme_features_fields features;
				struct nvme_io_mgmt_fields io_mgmt;
				struct nvme_format_fields format;
			};
		};
		/* Fabrics commands (opcode 7Fh) lay out bytes 4..63 their own way. */
		struct nvmf_common_command fabrics;
		struct nvmf_connect_command connect;
		struct nvmf_property_get_command prop_get;
		struct nvmf_property_set_command prop_set;
		struct nvmf_auth_command auth;
	};
} NVME_PACKED;
static_assert(sizeof(struct nvme_sqe) == 64, "SQE");
/* Where the error log says a failed check was (bytes of the SQE, as the spec numbers them). */
static_assert(__builtin_offsetof(struct nvme_sqe, dptr) == 24, "DPTR offset");
static_assert(__builtin_offsetof(struct nvme_sqe, rw.slba) == 40, "SLBA offset");
static_assert(__builtin_offsetof(struct nvme_sqe, rw.nlb) == 48, "NLB offset");
static_assert(__builtin_offsetof(struct nvme_sqe, rw.control) == 50, "control (DTYPE) offset");
static_assert(__builtin_offsetof(struct nvme_sqe, rw.dspec) == 54, "DSPEC offset");
static_assert(__builtin_offsetof(struct nvme_sqe, io_mgmt.mos) == 42, "MOS offset");
static_assert(__builtin_offsetof(struct nvme_sqe, zmr.zra) == 52, "ZRA offset");
static_assert(__builtin_offsetof(struct nvme_sqe, get_log_page.lpo) == 48, "LPO offset");
static_assert(__builtin_offsetof(struct nvme_sqe, identify.csi) == 47, "Identify CSI offset");
static_assert(__builtin_offsetof(struct nvme_sqe, connect.sqsize) == 44, "Connect SQSIZE offset");
static_assert(__builtin_offsetof(struct nvme_sqe, prop_get.offset) == 44, "Property OFST offset");
static_assert(__builtin_offsetof(struct nvme_sqe, auth.secp) == 43, "Authentication SECP offset");

struct nvme_cqe {
	uint64_t result; /* DW0 and DW1 */
	uint16_t sq_head;
	uint16_t sq_id;
	uint16_t command_id;
	uint16_t status; /* phase in bit 0, status field in 15:1 */
} NVME_PACKED;
static_assert(sizeof(struct nvme_cqe) == 16, "CQE");

struct nvme_tcp_cmd_pdu {
	struct nvme_tcp_hdr hdr;
	struct nvme_sqe cmd;
} NVME_PACKED;
static_assert(sizeof(struct nvme_tcp_cmd_pdu) == 72, "CapsuleCmd");

struct nvme_tcp_rsp_pdu {
	struct nvme_tcp_hdr hdr;
	struct nvme_cqe cqe;
} NVME_PACKED;
static_assert(sizeof(struct nvme_tcp_rsp_pdu) == 24, "CapsuleResp");

/*
 * Status field value as used in this code base: SC in bits 7:0, SCT in
 * bits 10:8, CRD 12:11, More bit 13, DNR bit 14 (the CQE's status word
 * shifted right by one, the way the Linux kernel writes them).
 */
#define NVME_SCT_GENERIC 0x0
#define NVME_SCT_COMMAND_SPECIFIC 0x1
#define NVME_SCT_MEDIA 0x2
#define NVME_STATUS_DNR 0x4000
#define NVME_STATUS(sct, sc) ((uint16_t)((sct) << 8 | (sc)))

enum nvme_status {
	NVME_SC_SUCCESS = 0x0,
	NVME_SC_INVALID_OPCODE = 0x1,
	NVME_SC_INVALID_FIELD = 0x2,
	NVME_SC_CMDID_CONFLICT = 0x3,
	NVME_SC_DATA_XFER_ERROR = 0x4,
	NVME_SC_POWER_LOSS = 0x5,
	NVME_SC_INTERNAL = 0x6,
	NVME_SC_ABORT_REQ = 0x7,
	NVME_SC_ABORT_QUEUE = 0x8,
	NVME_SC_INVALID_NS = 0xB,
	NVME_SC_CMD_SEQ_ERROR = 0xC,
	NVME_SC_SGL_INVALID_LAST = 0xD,
	NVME_SC_SGL_INVALID_COUNT = 0xE,
	NVME_SC_SGL_INVALID_DATA = 0xF,
	NVME_SC_SGL_INVALID_METADATA = 0x10,
	NVME_SC_SGL_INVALID_TYPE = 0x11,
	NVME_SC_SGL_INVALID_OFFSET = 0x16,
	NVME_SC_CMD_INTERRUPTED = 0x21,
	NVME_SC_TRANSIENT_TRANSPORT = 0x22,
	NVME_SC_FDP_DISABLED = 0x29,
	NVME_SC_INVALID_PLACEMENT_HANDLE_LIST = 0x2A,
	NVME_SC_INVALID_IO_CMD_SET = 0x2C,
	NVME_SC_LBA_RANGE = 0x80,
	NVME_SC_CAP_EXCEEDED = 0x81,
	NVME_SC_NS_NOT_READY = 0x82,

	NVME_SC_CQ_INVALID = 0x100,
	NVME_SC_QID_INVALID = 0x101,
	NVME_SC_QUEUE_SIZE = 0x102,
	NVME_SC_ABORT_LIMIT = 0x103,
	NVME_SC_ASYNC_LIMIT = 0x105,
	NVME_SC_INVALID_LOG_PAGE = 0x109,
	NVME_SC_INVALID_FORMAT = 0x10A,
	NVME_SC_FEATURE_NOT_SAVEABLE = 0x10D,
	NVME_SC_FEATURE_NOT_CHANGEABLE = 0x10E,
	NVME_SC_FEATURE_NOT_PER_NS = 0x10F,

	NVME_SC_CONNECT_FORMAT = 0x180,
	NVME_SC_CONNECT_CTRL_BUSY = 0x181,
	NVME_SC_CONNECT_INVALID_PARAM = 0x182,
	NVME_SC_CONNECT_RESTART_DISC = 0x183,
	NVME_SC_CONNECT_INVALID_HOST = 0x184,
	NVME_SC_AUTH_REQUIRED = 0x191, /* the queue must authenticate before anything else */

	NVME_SC_READ_ONLY = 0x182, /* Attempted Write to Read Only Range */
	NVME_SC_ZONE_BOUNDARY_ERROR = 0x1B8,
	NVME_SC_ZONE_FULL = 0x1B9,
	NVME_SC_ZONE_READ_ONLY = 0x1BA,
	NVME_SC_ZONE_OFFLINE = 0x1BB,
	NVME_SC_ZONE_INVALID_WRITE = 0x1BC,
	NVME_SC_ZONE_TOO_MANY_ACTIVE = 0x1BD,
	NVME_SC_ZONE_TOO_MANY_OPEN = 0x1BE,
	NVME_SC_ZONE_INVALID_TRANSITION = 0x1BF,

	NVME_SC_WRITE_FAULT = 0x280,
	NVME_SC_READ_ERROR = 0x281,
	NVME_SC_COMPARE_FAILED = 0x285,
};

/* ------------------------------------------------------------------ */
/* Opcodes                                                              */
/* ------------------------------------------------------------------ */

enum nvme_admin_opcode {
	nvme_admin_delete_sq = 0x00,
	nvme_admin_create_sq = 0x01,
	nvme_admin_get_log_page = 0x02,
	nvme_admin_delete_cq = 0x04,
	nvme_admin_create_cq = 0x05,
	nvme_admin_identify = 0x06,
	nvme_admin_abort_cmd = 0x08,
	nvme_admin_set_features = 0x09,
	nvme_admin_get_features = 0x0A,
	nvme_admin_async_event = 0x0C,
	nvme_admin_ns_mgmt = 0x0D,
	nvme_admin_keep_alive = 0x18,
	nvme_admin_format_nvm = 0x80,
	nvme_admin_fabrics = 0x7F,
};

enum nvme_io_opcode {
	nvme_cmd_flush = 0x00,
	nvme_cmd_write = 0x01,
	nvme_cmd_read = 0x02,
	nvme_cmd_write_uncor = 0x04,
	nvme_cmd_compare = 0x05,
	nvme_cmd_write_zeroes = 0x08,
	nvme_cmd_dsm = 0x09,
	nvme_cmd_verify = 0x0C,
	nvme_cmd_io_mgmt_recv = 0x12,
	nvme_cmd_io_mgmt_send = 0x1D,
	nvme_cmd_zone_mgmt_send = 0x79,
	nvme_cmd_zone_mgmt_recv = 0x7A,
	nvme_cmd_zone_append = 0x7D,
};

enum nvme_fabrics_type {
	nvme_fabrics_type_property_set = 0x00,
	nvme_fabrics_type_connect = 0x01,
	nvme_fabrics_type_property_get = 0x04,
	nvme_fabrics_type_auth_send = 0x05,
	nvme_fabrics_type_auth_receive = 0x06,
	nvme_fabrics_type_disconnect = 0x08,
};

/* Read/Write CDW12 as the host builds it: NLB in bits 15:0 */
#define NVME_RW_NLB_MASK 0xFFFFu

/* Dataset Management */
struct nvme_dsm_range {
	uint32_t cattr;
	uint32_t nlb; /* 1's based */
	uint64_t slba;
} NVME_PACKED;
static_assert(sizeof(struct nvme_dsm_range) == 16, "DSM range");
#define NVME_DSM_MAX_RANGES 256

/* ------------------------------------------------------------------ */
/* Fabrics (NVMe over Fabrics 1.1): Connect data, properties            */
/* ------------------------------------------------------------------ */

#define NVMF_NQN_SIZE 256
#define NVMF_NQN_FIELD_LEN 256

struct nvmf_connect_data {
	uint8_t hostid[16];
	uint16_t cntlid;
	uint8_t resv4[238];
	char subsysnqn[NVMF_NQN_FIELD_LEN];
	char hostnqn[NVMF_NQN_FIELD_LEN];
	uint8_t resv5[256];
} NVME_PACKED;
static_assert(sizeof(struct nvmf_connect_data) == 1024, "Connect data");

/* Connect result, bits 31:16 on success: the host must authenticate this queue (ATR), or
 * authenticate and set up a secure channel (ASCR). */
#define NVMF_CONNECT_AUTHREQ_ATR (1u << 17)
#define NVMF_CONNECT_AUTHREQ_ASCR (1u << 18)

/* ---- DH-HMAC-CHAP (NVMe base 2.0, 8.13; TP8006): the messages of Authentication Send/Receive ---- */

#define NVME_AUTH_SECP_NVME 0xE9 /* Security Protocol: NVMe authentication */
#define NVME_AUTH_SPSP 0x01      /* SPSP0 and SPSP1 */

enum nvme_auth_type {
	NVME_AUTH_COMMON_MESSAGES = 0x00,
	NVME_AUTH_DHCHAP_MESSAGES = 0x01,
};

enum nvme_auth_id {
	NVME_AUTH_DHCHAP_MESSAGE_NEGOTIATE = 0x00, /* common */
	NVME_AUTH_DHCHAP_MESSAGE_CHALLENGE = 0x01,
	NVME_AUTH_DHCHAP_MESSAGE_REPLY = 0x02,
	NVME_AUTH_DHCHAP_MESSAGE_SUCCESS1 = 0x03,
	NVME_AUTH_DHCHAP_MESSAGE_SUCCESS2 = 0x04,
	NVME_AUTH_DHCHAP_MESSAGE_FAILURE2 = 0xF0, /* common: host to controller */
	NVME_AUTH_DHCHAP_MESSAGE_FAILURE1 = 0xF1, /* common: controller to host */
};

/* Protocol descriptor AUTHID: DH-HMAC-CHAP. */
#define NVME_AUTH_DHCHAP_AUTH_ID 0x01

enum nvme_auth_hash {
	NVME_AUTH_HASH_SHA256 = 0x01,
	NVME_AUTH_HASH_SHA384 = 0x02,
	NVME_AUTH_HASH_SHA512 = 0x03,
};

enum nvme_auth_dhgroup {
	NVME_AUTH_DHGROUP_NULL = 0x00,
	NVME_AUTH_DHGROUP_2048 = 0x01, /* ffdhe2048 (RFC 7919) */
	NVME_AUTH_DHGROUP_3072 = 0x02,
	NVME_AUTH_DHGROUP_4096 = 0x03,
	NVME_AUTH_DHGROUP_6144 = 0x04,
	NVME_AUTH_DHGROUP_8192 = 0x05,
};

/* Failure reason code (RC) and its explanation (RCE). */
#define NVME_AUTH_FAILURE_REASON_FAILED 0x01
enum nvme_auth_failure_explanation {
	NVME_AUTH_FAILURE_FAILED = 0x01,
	NVME_AUTH_FAILURE_PROTOCOL_UNUSABLE = 0x02,
	NVME_AUTH_FAILURE_CONCAT_MISMATCH = 0x03,
	NVME_AUTH_FAILURE_HASH_UNUSABLE = 0x04,
	NVME_AUTH_FAILURE_DHGROUP_UNUSABLE = 0x05,
	NVME_AUTH_FAILURE_INCORRECT_PAYLOAD = 0x06,
	NVME_AUTH_FAILURE_INCORRECT_MESSAGE = 0x07,
};

/* The first six bytes of every message. */
struct nvme_auth_common {
	uint8_t auth_type;
	uint8_t auth_id;
	uint16_t rsvd;
	uint16_t t_id; /* transaction identifier, chosen by the host */
} NVME_PACKED;
static_assert(sizeof(struct nvme_auth_common) == 6, "auth message header");

/* A protocol descriptor: hash identifiers in idlist[0..29], DH groups in idlist[30..59]. */
struct nvme_auth_dhchap_protocol {
	uint8_t authid;
	uint8_t rsvd;
	uint8_t halen;
	uint8_t dhlen;
	uint8_t idlist[60];
} NVME_PACKED;
static_assert(sizeof(struct nvme_auth_dhchap_protocol) == 64, "DH-HMAC-CHAP protocol descriptor");
#define NVME_AUTH_DHLIST_OFFSET 30

struct nvme_auth_negotiate {
	struct nvme_auth_common hdr;
	uint8_t sc_c; /* secure channel concatenation: 0 = none */
	uint8_t napd; /* protocol descriptors that follow */
	struct nvme_auth_dhchap_protocol protocol[];
} NVME_PACKED;
static_assert(sizeof(struct nvme_auth_negotiate) == 8, "AUTH_Negotiate");

struct nvme_auth_challenge {
	struct nvme_auth_common hdr;
	uint8_t hl; /* hash length */
	uint8_t rsvd1;
	uint8_t hashid;
	uint8_t dhgid;
	uint16_t dhvlen;
	uint32_t seqnum;
	uint8_t cval[]; /* hl bytes of challenge, then dhvlen bytes of the controller's DH value */
} NVME_PACKED;
static_assert(sizeof(struct nvme_auth_challenge) == 16, "DH-HMAC-CHAP_Challenge");

struct nvme_auth_reply {
	struct nvme_auth_common hdr;
	uint8_t hl;
	uint8_t rsvd1;
	uint8_t cvalid; /* bit 0: the host challenges the controller (bidirectional) */
	uint8_t rsvd2;
	uint16_t dhvlen;
	uint32_t seqnum; /* of the host's challenge; 0 without one */
	uint8_t rval[];  /* hl bytes of response, hl bytes of challenge, dhvlen bytes of DH value */
} NVME_PACKED;
static_assert(sizeof(struct nvme_auth_reply) == 16, "DH-HMAC-CHAP_Reply");

struct nvme_auth_success1 {
	struct nvme_auth_common hdr;
	uint8_t hl;
	uint8_t rsvd1;
	uint8_t rvalid; /* bit 0: rval holds the controller's response */
	uint8_t rsvd2[7];
	uint8_t rval[];
} NVME_PACKED;
static_assert(sizeof(struct nvme_auth_success1) == 16, "DH-HMAC-CHAP_Success1");

struct nvme_auth_success2 {
	struct nvme_auth_common hdr;
	uint8_t rsvd[10];
} NVME_PACKED;
static_assert(sizeof(struct nvme_auth_success2) == 16, "DH-HMAC-CHAP_Success2");

struct nvme_auth_failure {
	struct nvme_auth_common hdr;
	uint8_t rescode;
	uint8_t rescode_exp;
} NVME_PACKED;
static_assert(sizeof(struct nvme_auth_failure) == 8, "AUTH_Failure1/2");

#define NVMF_CNTLID_DYNAMIC 0xFFFF
#define NVMF_CNTLID_MAX 0xFFEF

/* Controller registers (properties) */
enum nvme_register {
	NVME_REG_CAP = 0x00,
	NVME_REG_VS = 0x08,
	NVME_REG_CC = 0x14,
	NVME_REG_CSTS = 0x1C,
	NVME_REG_NSSR = 0x20,
};

#define NVME_CAP_MQES(cap) ((cap) & 0xFFFF)
#define NVME_CAP_CQR (1ull << 16)
#define NVME_CAP_TO_SHIFT 24
#define NVME_CAP_CSS_NVM (1ull << 37)
#define NVME_CAP_CSS_CSI (1ull << 43)
#define NVME_CAP_CSS_NOIO (1ull << 44)

#define NVME_CC_EN (1u << 0)
#define NVME_CC_CSS_SHIFT 4
#define NVME_CC_CSS_MASK (7u << NVME_CC_CSS_SHIFT)
#define NVME_CC_CSS_NVM 0u
#define NVME_CC_CSS_CSI 6u
#define NVME_CC_CSS_ADMIN_ONLY 7u
#define NVME_CC_MPS_SHIFT 7
#define NVME_CC_MPS_MASK (0xFu << NVME_CC_MPS_SHIFT)
#define NVME_CC_AMS_SHIFT 11
#define NVME_CC_AMS_MASK (7u << NVME_CC_AMS_SHIFT)
#define NVME_CC_SHN_SHIFT 14
#define NVME_CC_SHN_MASK (3u << NVME_CC_SHN_SHIFT)
#define NVME_CC_IOSQES_SHIFT 16
#define NVME_CC_IOSQES_MASK (0xFu << NVME_CC_IOSQES_SHIFT)
#define NVME_CC_IOCQES_SHIFT 20
#define NVME_CC_IOCQES_MASK (0xFu << NVME_CC_IOCQES_SHIFT)

#define NVME_CSTS_RDY (1u << 0)
#define NVME_CSTS_CFS (1u << 1)
#define NVME_CSTS_SHST_SHIFT 2
#define NVME_CSTS_SHST_CMPLT (2u << NVME_CSTS_SHST_SHIFT)

#define NVME_VS(major, minor, tertiary) (((major) << 16) | ((minor) << 8) | (tertiary))

/* ------------------------------------------------------------------ */
/* Identify                                                              */
/* ------------------------------------------------------------------ */

enum nvme_identify_cns {
	NVME_ID_CNS_NS = 0x00,
	NVME_ID_CNS_CTRL = 0x01,
	NVME_ID_CNS_NS_ACTIVE_LIST = 0x02,
	NVME_ID_CNS_NS_DESC_LIST = 0x03,
	NVME_ID_CNS_CS_NS = 0x05,
	NVME_ID_CNS_CS_CTRL = 0x06,
	NVME_ID_CNS_NS_CS_INDEP = 0x08,
	NVME_ID_CNS_NS_PRESENT_LIST = 0x10,
	NVME_ID_CNS_NS_PRESENT = 0x11,
	NVME_ID_CNS_CTRL_NS_LIST = 0x12,
	NVME_ID_CNS_CTRL_LIST = 0x13,
	NVME_ID_CNS_IOCS = 0x1C,
};

enum nvme_csi {
	NVME_CSI_NVM = 0,
	NVME_CSI_KV = 1,
	NVME_CSI_ZNS = 2,
};

#define NVME_IDENTIFY_DATA_SIZE 4096

struct nvme_id_power_state {
	uint16_t max_power;
	uint8_t rsvd2;
	uint8_t flags;
	uint32_t entry_lat;
	uint32_t exit_lat;
	uint8_t read_tput;
	uint8_t read_lat;
	uint8_t write_tput;
	uint8_t write_lat;
	uint16_t idle_power;
	uint8_t idle_scale;
	uint8_t rsvd19;
	uint16_t active_power;
	uint8_t active_work_scale;
	uint8_t rsvd23[9];
} NVME_PACKED;
static_assert(sizeof(struct nvme_id_power_state) == 32, "power state descriptor");

enum nvme_ctrl_type {
	NVME_CTRL_IO = 1,
	NVME_CTRL_DISC = 2,
	NVME_CTRL_ADMIN = 3,
};

#define NVME_CTRL_CMIC_MULTI_CTRL (1u << 1)
#define NVME_CTRL_CTRATT_128_ID (1u << 0)
#define NVME_CTRL_CTRATT_ENDURANCE_GROUPS (1u << 4)
#define NVME_CTRL_CTRATT_TBKAS (1u << 6)
#define NVME_CTRL_CTRATT_FDPS (1u << 19) /* Flexible Data Placement supported */
#define NVME_CTRL_LPA_SMART_PER_NS (1u << 0)
#define NVME_CTRL_LPA_CMD_EFFECTS (1u << 1)
#define NVME_CTRL_LPA_EXTENDED (1u << 2)
#define NVME_CTRL_OAES_NS_ATTR (1u << 8)
#define NVME_CTRL_OAES_DISC_LOG_CHANGE (1u << 31)
#define NVME_CTRL_ONCS_COMPARE (1u << 0)
#define NVME_CTRL_ONCS_DSM (1u << 2)
#define NVME_CTRL_ONCS_WRITE_ZEROES (1u << 3)
#define NVME_CTRL_ONCS_VERIFY (1u << 7)
#define NVME_CTRL_VWC_PRESENT (1u << 0)
#define NVME_CTRL_OACS_FORMAT_NVM (1u << 1)
#define NVME_CTRL_SGLS_SUPPORTED (1u << 0)
#define NVME_CTRL_SGLS_KEYED (1u << 2)
#define NVME_CTRL_SGLS_OFFSET (1u << 20)

struct nvme_id_ctrl {
	uint16_t vid;
	uint16_t ssvid;
	char sn[20];
	char mn[40];
	char fr[8];
	uint8_t rab;
	uint8_t ieee[3];
	uint8_t cmic;
	uint8_t mdts;
	uint16_t cntlid;
	uint32_t ver;
	uint32_t rtd3r;
	uint32_t rtd3e;
	uint32_t oaes;
	uint32_t ctratt;
	uint16_t rrls;
	uint8_t rsvd102[9];
	uint8_t cntrltype;
	uint8_t fguid[16];
	uint16_t crdt1;
	uint16_t crdt2;
	uint16_t crdt3;
	uint8_t rsvd134[122];
	uint16_t oacs;
	uint8_t acl;
	uint8_t aerl;
	uint8_t frmw;
	uint8_t lpa;
	uint8_t elpe;
	uint8_t npss;
	uint8_t avscc;
	uint8_t apsta;
	uint16_t wctemp;
	uint16_t cctemp;
	uint16_t mtfa;
	uint32_t hmpre;
	uint32_t hmmin;
	uint8_t tnvmcap[16];
	uint8_t unvmcap[16];
	uint32_t rpmbs;
	uint16_t edstt;
	uint8_t dsto;
	uint8_t fwug;
	uint16_t kas;
	uint16_t hctma;
	uint16_t mntmt;
	uint16_t mxtmt;
	uint32_t sanicap;
	uint32_t hmminds;
	uint16_t hmmaxd;
	uint16_t nsetidmax;
	uint16_t endgidmax;
	uint8_t anatt;
	uint8_t anacap;
	uint32_t anagrpmax;
	uint32_t nanagrpid;
	uint32_t pels;
	uint16_t domainid;
	uint8_t rsvd358[10];
	uint8_t megcap[16];
	uint8_t rsvd384[128];
	uint8_t sqes;
	uint8_t cqes;
	uint16_t maxcmd;
	uint32_t nn;
	uint16_t oncs;
	uint16_t fuses;
	uint8_t fna;
	uint8_t vwc;
	uint16_t awun;
	uint16_t awupf;
	uint8_t icsvscc;
	uint8_t nwpc;
	uint16_t acwu;
	uint16_t ocfs;
	uint32_t sgls;
	uint32_t mnan;
	uint8_t maxdna[16];
	uint32_t maxcna;
	uint8_t rsvd564[204];
	char subnqn[256];
	uint8_t rsvd1024[768];
	uint32_t ioccsz;
	uint32_t iorcsz;
	uint16_t icdoff;
	uint8_t fcatt;
	uint8_t msdbd;
	uint16_t ofcs;
	uint8_t dctype;
	uint8_t rsvd1807[241];
	struct nvme_id_power_state psd[32];
	uint8_t vs[1024];
} NVME_PACKED;
static_assert(sizeof(struct nvme_id_ctrl) == 4096, "Identify Controller");
static_assert(__builtin_offsetof(struct nvme_id_ctrl, kas) == 320, "KAS offset");
static_assert(__builtin_offsetof(struct nvme_id_ctrl, sqes) == 512, "SQES offset");
static_assert(__builtin_offsetof(struct nvme_id_ctrl, sgls) == 536, "SGLS offset");
static_assert(__builtin_offsetof(struct nvme_id_ctrl, subnqn) == 768, "SUBNQN offset");
static_assert(__builtin_offsetof(struct nvme_id_ctrl, ioccsz) == 1792, "IOCCSZ offset");
static_assert(__builtin_offsetof(struct nvme_id_ctrl, cntrltype) == 111, "CNTRLTYPE offset");
static_assert(__builtin_offsetof(struct nvme_id_ctrl, ctratt) == 96, "CTRATT offset");
static_assert(__builtin_offsetof(struct nvme_id_ctrl, endgidmax) == 340, "ENDGIDMAX offset");

struct nvme_lbaf {
	uint16_t ms;
	uint8_t ds;
	uint8_t rp;
} NVME_PACKED;
static_assert(sizeof(struct nvme_lbaf) == 4, "LBA format");

#define NVME_NS_FEAT_THIN (1u << 0)
#define NVME_NS_FEAT_DEALLOC_ERR (1u << 2)
#define NVME_NS_NMIC_SHARED (1u << 0)
#define NVME_NS_DLFEAT_READ_ZEROES 0x1
#define NVME_NS_DLFEAT_WRITE_ZEROES (1u << 3)

struct nvme_id_ns {
	uint64_t nsze;
	uint64_t ncap;
	uint64_t nuse;
	uint8_t nsfeat;
	uint8_t nlbaf;
	uint8_t flbas;
	uint8_t mc;
	uint8_t dpc;
	uint8_t dps;
	uint8_t nmic;
	uint8_t rescap;
	uint8_t fpi;
	uint8_t dlfeat;
	uint16_t nawun;
	uint16_t nawupf;
	uint16_t nacwu;
	uint16_t nabsn;
	uint16_t nabo;
	uint16_t nabspf;
	uint16_t noiob;
	uint8_t nvmcap[16];
	uint16_t npwg;
	uint16_t npwa;
	uint16_t npdg;
	uint16_t npda;
	uint16_t nows;
	uint16_t mssrl;
	uint32_t mcl;
	uint8_t msrc;
	uint8_t rsvd81;
	uint8_t nulbaf;
	uint8_t rsvd83[9];
	uint32_t anagrpid;
	uint8_t rsvd96[3];
	uint8_t nsattr;
	uint16_t nvmsetid;
	uint16_t endgid;
	uint8_t nguid[16];
	uint8_t eui64[8];
	struct nvme_lbaf lbaf[64];
	uint8_t vs[3712];
} NVME_PACKED;
static_assert(sizeof(struct nvme_id_ns) == 4096, "Identify Namespace");
static_assert(__builtin_offsetof(struct nvme_id_ns, nguid) == 104, "NGUID offset");
static_assert(__builtin_offsetof(struct nvme_id_ns, lbaf) == 128, "LBAF offset");
static_assert(__builtin_offsetof(struct nvme_id_ns, endgid) == 102, "ENDGID offset");

/* I/O Command Set Independent Identify Namespace (CNS 08h) */
#define NVME_NSTAT_NRDY (1u << 0) /* namespace ready */
struct nvme_id_ns_cs_indep {
	uint8_t nsfeat;
	uint8_t nmic;
	uint8_t rescap;
	uint8_t fpi;
	uint32_t anagrpid;
	uint8_t nsattr;
	uint8_t rsvd9;
	uint16_t nvmsetid;
	uint16_t endgid;
	uint8_t nstat;
	uint8_t rsvd15[4081];
} NVME_PACKED;
static_assert(sizeof(struct nvme_id_ns_cs_indep) == 4096,
	      "I/O Command Set Independent Identify Namespace");
static_assert(__builtin_offsetof(struct nvme_id_ns_cs_indep, endgid) == 12,
	      "CS-indep ENDGID offset");
static_assert(__builtin_offsetof(struct nvme_id_ns_cs_indep, nstat) == 14, "NSTAT offset");

/* Namespace Identification Descriptor (CNS 03h) */
enum nvme_nidt {
	NVME_NIDT_EUI64 = 1,
	NVME_NIDT_NGUID = 2,
	NVME_NIDT_UUID = 3,
	NVME_NIDT_CSI = 4,
};
#define NVME_NIDT_EUI64_LEN 8
#define NVME_NIDT_NGUID_LEN 16
#define NVME_NIDT_UUID_LEN 16
#define NVME_NIDT_CSI_LEN 1

struct nvme_ns_id_desc {
	uint8_t nidt;
	uint8_t nidl;
	uint16_t rsvd;
} NVME_PACKED;
static_assert(sizeof(struct nvme_ns_id_desc) == 4, "NS identification descriptor header");

/* Identify I/O Command Set data structure (CNS 1Ch): 512 command set vectors */
#define NVME_IOCS_VECTOR_NVM (1ull << NVME_CSI_NVM)
#define NVME_IOCS_VECTOR_ZNS (1ull << NVME_CSI_ZNS)

/* ZNS: Identify Controller, I/O command set specific (CNS 06h, CSI 2) */
struct nvme_id_ctrl_zns {
	uint8_t zasl;
	uint8_t rsvd1[4095];
} NVME_PACKED;
static_assert(sizeof(struct nvme_id_ctrl_zns) == 4096, "ZNS Identify Controller");

/* NVM command set Identify Controller (CNS 06h, CSI 0) */
struct nvme_id_ctrl_nvm {
	uint8_t vsl;
	uint8_t wzsl;
	uint8_t wusl;
	uint8_t dmrl;
	uint32_t dmrsl;
	uint64_t dmsl;
	uint8_t rsvd16[4080];
} NVME_PACKED;
static_assert(sizeof(struct nvme_id_ctrl_nvm) == 4096, "NVM Identify Controller");

struct nvme_zns_lbafe {
	uint64_t zsze;
	uint8_t zdes;
	uint8_t rsvd9[7];
} NVME_PACKED;
static_assert(sizeof(struct nvme_zns_lbafe) == 16, "ZNS LBA format extension");

#define NVME_ZNS_OZCS_RAZB (1u << 0)
#define NVME_ZNS_OZCS_ZRWASUP (1u << 1)

struct nvme_id_ns_zns {
	uint16_t zoc;
	uint16_t ozcs;
	uint32_t mar;
	uint32_t mor;
	uint32_t rrl;
	uint32_t frl;
	uint32_t rrl1;
	uint32_t rrl2;
	uint32_t rrl3;
	uint32_t frl1;
	uint32_t frl2;
	uint32_t frl3;
	uint32_t numzrwa;
	uint16_t zrwafg;
	uint16_t zrwasz;
	uint8_t zrwacap;
	uint8_t rsvd53[2763];
	struct nvme_zns_lbafe lbafe[64];
	uint8_t vs[256];
} NVME_PACKED;
static_assert(sizeof(struct nvme_id_ns_zns) == 4096, "ZNS Identify Namespace");
static_assert(__builtin_offsetof(struct nvme_id_ns_zns, lbafe) == 2816, "LBAFE offset");

/* ------------------------------------------------------------------ */
/* Log pages                                                            */
/* ------------------------------------------------------------------ */

enum nvme_log_id {
	NVME_LOG_ERROR = 0x01,
	NVME_LOG_SMART = 0x02,
	NVME_LOG_FW_SLOT = 0x03,
	NVME_LOG_CHANGED_NS = 0x04,
	NVME_LOG_CMD_EFFECTS = 0x05,
	NVME_LOG_DEVICE_SELF_TEST = 0x06,
	NVME_LOG_ENDURANCE_GROUP = 0x09,
	NVME_LOG_ANA = 0x0C,
	NVME_LOG_FDP_CONFIGS = 0x20,
	NVME_LOG_FDP_RUH_USAGE = 0x21,
	NVME_LOG_FDP_STATS = 0x22,
	NVME_LOG_FDP_EVENTS = 0x23,
	NVME_LOG_DISC = 0x70,
	NVME_LOG_ZONE_CHANGED_LIST = 0xBF,
	NVME_LOG_VENDOR_NVEMU = 0xCA,
};

/* Get Log Page lsp bit 7: Retain Asynchronous Event */
#define NVME_GET_LOG_RAE (1u << 7)

struct nvme_error_log_page {
	uint64_t error_count;
	uint16_t sqid;
	uint16_t cmdid;
	uint16_t status_field;
	uint16_t parm_error_location;
	uint64_t lba;
	uint32_t nsid;
	uint8_t vs;
	uint8_t trtype;
	uint8_t resv[2];
	uint64_t cs;
	uint16_t trtype_spec_info;
	uint8_t resv2[22];
} NVME_PACKED;
static_assert(sizeof(struct nvme_error_log_page) == 64, "Error Information log entry");

struct nvme_smart_log {
	uint8_t critical_warning;
	uint16_t temperature;
	uint8_t avail_spare;
	uint8_t spare_thresh;
	uint8_t percent_used;
	uint8_t endu_grp_crit_warn_sumry;
	uint8_t rsvd7[25];
	uint8_t data_units_read[16];
	uint8_t data_units_written[16];
	uint8_t host_reads[16];
	uint8_t host_writes[16];
	uint8_t ctrl_busy_time[16];
	uint8_t power_cycles[16];
	uint8_t power_on_hours[16];
	uint8_t unsafe_shutdowns[16];
	uint8_t media_errors[16];
	uint8_t num_err_log_entries[16];
	uint32_t warning_temp_time;
	uint32_t critical_comp_time;
	uint16_t temp_sensor[8];
	uint32_t thm_temp1_trans_count;
	uint32_t thm_temp2_trans_count;
	uint32_t thm_temp1_total_time;
	uint32_t thm_temp2_total_time;
	uint8_t rsvd232[280];
} NVME_PACKED;
static_assert(sizeof(struct nvme_smart_log) == 512, "SMART / Health log");

/* SMART / Health Critical Warning bits */
#define NVME_SMART_CRIT_SPARE (1u << 0)	      /* available spare below its threshold */
#define NVME_SMART_CRIT_TEMPERATURE (1u << 1) /* over (or under) a temperature threshold */
#define NVME_SMART_CRIT_RELIABILITY (1u << 2) /* reliability degraded */
#define NVME_SMART_CRIT_MEDIA (1u << 3)	      /* the media were placed in read-only mode */
/* SMART / Health status asynchronous event information (type 1h, log 02h) */
#define NVME_AER_SMART_RELIABILITY 0x00
#define NVME_AER_SMART_TEMP_THRESH 0x01
#define NVME_AER_SMART_SPARE_BELOW 0x02

struct nvme_fw_slot_info_log {
	uint8_t afi;
	uint8_t rsvd1[7];
	char frs[7][8];
	uint8_t rsvd64[448];
} NVME_PACKED;
static_assert(sizeof(struct nvme_fw_slot_info_log) == 512, "Firmware Slot log");

#define NVME_CMD_EFFECTS_CSUPP (1u << 0)
#define NVME_CMD_EFFECTS_LBCC (1u << 1)
#define NVME_CMD_EFFECTS_NCC (1u << 2)
#define NVME_CMD_EFFECTS_CSE_NS (1u << 16) /* no other command to the namespace meanwhile */

struct nvme_effects_log {
	uint32_t acs[256];
	uint32_t iocs[256];
	uint8_t resv[2048];
} NVME_PACKED;
static_assert(sizeof(struct nvme_effects_log) == 4096, "Commands Supported and Effects log");

#define NVME_CHANGED_NS_LOG_SIZE 4096

/*
 * nvemu's vendor log page (CAh): what the flash model did.  Ratios are in
 * thousandths so the page holds integers only.  All zero for namespaces
 * without a device model.  Version 2 adds the FDP records: for one namespace
 * with FDP, fdp_handles records of its reclaim unit handles, then fdp_groups
 * records of its reclaim groups, follow the 512-byte page.  Version 3 adds
 * the wear fields.
 */
#define NVEMU_MODEL_LOG_VERSION 3
struct nvemu_model_log {
	uint64_t version; /* NVEMU_MODEL_LOG_VERSION */
	uint64_t host_pages_written;
	uint64_t nand_pages_written;
	uint64_t gc_runs;
	uint64_t erase_count_min;
	uint64_t erase_count_max;
	uint64_t erase_count_mean_milli;
	uint64_t waf_milli;
	uint64_t fdp_handles; /* records of struct nvemu_model_log_fdp after this page, */
	uint64_t fdp_groups;  /* then these */
	/* version 3: wear (zeroes when no namespace's blocks wear out) */
	uint64_t retired_blocks;
	uint64_t avail_spare_pcent;  /* the lowest of the namespaces' */
	uint64_t percent_used_milli; /* the highest */
	uint64_t read_only;          /* 1: some namespace is */
	uint8_t rsvd112[400];
} NVME_PACKED;
static_assert(sizeof(struct nvemu_model_log) == 512, "nvemu model log");

/* One FDP reclaim unit handle (all groups) or reclaim group (all handles): what the host and
 * GC wrote through it. */
struct nvemu_model_log_fdp {
	uint64_t id; /* the handle's RUHID, or the group's RGID */
	uint64_t host_pages_written;
	uint64_t nand_pages_written; /* host + GC moves of its data */
	uint64_t gc_pages_moved;
	uint64_t rus_opened;  /* reclaim units it started */
	uint64_t rus_erased;  /* reclaim units of its data collected */
	uint64_t valid_pages; /* its data on flash now */
	uint64_t waf_milli;
} NVME_PACKED;
static_assert(sizeof(struct nvemu_model_log_fdp) == 64, "nvemu model log FDP record");

/* Endurance Group Information log (09h), Log Specific Identifier = Endurance Group ID */
struct nvme_endurance_group_log {
	uint8_t critical_warning;
	uint8_t egfeat;
	uint8_t rsvd2;
	uint8_t avl_spare;
	uint8_t avl_spare_threshold;
	uint8_t percent_used;
	uint16_t domain_identifier;
	uint8_t rsvd8[24];
	uint8_t endurance_estimate[16];
	uint8_t data_units_read[16];
	uint8_t data_units_written[16];
	uint8_t media_units_written[16];
	uint8_t host_read_cmds[16];
	uint8_t host_write_cmds[16];
	uint8_t media_data_integrity_err[16];
	uint8_t num_err_info_log_entries[16];
	uint8_t total_end_grp_cap[16];
	uint8_t unalloc_end_grp_cap[16];
	uint8_t rsvd192[320];
} NVME_PACKED;
static_assert(sizeof(struct nvme_endurance_group_log) == 512, "Endurance Group Information log");
static_assert(__builtin_offsetof(struct nvme_endurance_group_log, media_units_written) == 80,
	      "Media Units Written offset");

/* ------------------------------------------------------------------ */
/* Flexible Data Placement (TP4146, in NVMe Base 2.0c/2.1)              */
/* ------------------------------------------------------------------ */

/*
 * A Placement Identifier (DSPEC of a write with DTYPE 2) is a Reclaim Group Identifier in its
 * top RGIF bits and a Placement Handle (an index into the namespace's Placement Handle List,
 * which names Reclaim Unit Handles) in the rest.
 */
enum nvme_fdp_ruh_type {
	NVME_FDP_RUHT_INITIALLY_ISOLATED = 1,
	NVME_FDP_RUHT_PERSISTENTLY_ISOLATED = 2,
};

/* Reclaim Unit Handle Usage: RUHA */
enum nvme_fdp_ruha {
	NVME_FDP_RUHA_UNUSED = 0,
	NVME_FDP_RUHA_HOST = 1, /* in some namespace's Placement Handle List */
	NVME_FDP_RUHA_CTRL = 2,
};

/* FDP Attributes of a configuration descriptor */
#define NVME_FDP_FDPA_RGIF_MASK 0xFu   /* Reclaim Group Identifier Format: bits of a PID */
#define NVME_FDP_FDPA_FDPVWC (1u << 4) /* FDP Volatile Write Cache */
#define NVME_FDP_FDPA_VALID (1u << 7)

struct nvme_fdp_ruh_desc {
	uint8_t ruht; /* enum nvme_fdp_ruh_type */
	uint8_t rsvd1[3];
} NVME_PACKED;
static_assert(sizeof(struct nvme_fdp_ruh_desc) == 4, "Reclaim Unit Handle Descriptor");

/* FDP Configuration Descriptor: this header, NRUH RUH descriptors, VSS bytes. */
struct nvme_fdp_config_desc {
	uint16_t size; /* Descriptor Size, the whole descriptor in bytes */
	uint8_t fdpa;
	uint8_t vss;      /* Vendor Specific Size */
	uint32_t nrg;     /* Number of Reclaim Groups */
	uint16_t nruh;    /* Number of Reclaim Unit Handles */
	uint16_t maxpids; /* Max Placement Identifiers, 0's based */
	uint32_t nnss;    /* Number of Namespaces Supported */
	uint64_t runs;    /* Reclaim Unit Nominal Size, bytes */
	uint32_t erutl;   /* Estimated Reclaim Unit Time Limit, seconds; 0: not reported */
	uint8_t rsvd28[36];
} NVME_PACKED;
static_assert(sizeof(struct nvme_fdp_config_desc) == 64, "FDP Configuration Descriptor header");

/* FDP Configurations log (20h) header; Log Specific Identifier = Endurance Group ID */
struct nvme_fdp_config_log {
	uint16_t n; /* Number of FDP Configurations, 0's based */
	uint8_t version;
	uint8_t rsvd3;
	uint32_t size; /* the whole log page in bytes */
	uint8_t rsvd8[8];
} NVME_PACKED;
static_assert(sizeof(struct nvme_fdp_config_log) == 16, "FDP Configurations log header");

/* Reclaim Unit Handle Usage log (21h): this header, then one descriptor per RUH */
struct nvme_fdp_ruhu_log {
	uint16_t nruh;
	uint8_t rsvd2[6];
} NVME_PACKED;
static_assert(sizeof(struct nvme_fdp_ruhu_log) == 8, "RUH Usage log header");

struct nvme_fdp_ruhu_desc {
	uint8_t ruha; /* enum nvme_fdp_ruha */
	uint8_t rsvd1[7];
} NVME_PACKED;
static_assert(sizeof(struct nvme_fdp_ruhu_desc) == 8, "RUH Usage Descriptor");

/* FDP Statistics log (22h): 128-bit byte counts since FDP was enabled */
struct nvme_fdp_stats_log {
	uint8_t hbmw[16]; /* Host Bytes with Metadata Written */
	uint8_t mbmw[16]; /* Media Bytes with Metadata Written */
	uint8_t mbe[16];  /* Media Bytes Erased */
	uint8_t rsvd48[16];
} NVME_PACKED;
static_assert(sizeof(struct nvme_fdp_stats_log) == 64, "FDP Statistics log");

enum nvme_fdp_event_type {
	/* host events */
	NVME_FDP_EVENT_RUNFW = 0x00, /* Reclaim Unit Not Fully Written */
	NVME_FDP_EVENT_RUTLE = 0x01, /* Reclaim Unit Active Time Limit Exceeded */
	NVME_FDP_EVENT_RESET = 0x02, /* Controller Level Reset Modified Reclaim Unit Handles */
	NVME_FDP_EVENT_PID = 0x03,   /* Invalid Placement Identifier */
	/* controller events */
	NVME_FDP_EVENT_REALLOC = 0x80, /* Media Reallocated */
	NVME_FDP_EVENT_MODIFY = 0x81,  /* Implicitly Modified Reclaim Unit Handle */
};

#define NVME_FDP_EVENT_F_PIV (1u << 0)   /* Placement Identifier Valid */
#define NVME_FDP_EVENT_F_NSIDV (1u << 1) /* Namespace Identifier Valid */
#define NVME_FDP_EVENT_F_LV (1u << 2)    /* Location (RGID, RUHID) Valid */

struct nvme_fdp_event {
	uint8_t type;
	uint8_t flags;
	uint16_t pid;
	uint8_t timestamp[6]; /* milliseconds since the Unix epoch, as Set Features Timestamp */
	uint8_t ts_attr;
	uint8_t ts_rsvd;
	uint32_t nsid;
	uint8_t type_specific[16];
	uint16_t rgid;
	uint8_t ruhid;
	uint8_t rsvd35[5];
	uint8_t vs[24];
} NVME_PACKED;
static_assert(sizeof(struct nvme_fdp_event) == 64, "FDP Event");

/* FDP Events log (23h); LSP bit 0 selects host events (1) or controller events (0) */
#define NVME_FDP_EVENTS_LSP_HOST (1u << 0)
#define NVME_FDP_MAX_EVENTS 63
struct nvme_fdp_events_log {
	uint32_t n;
	uint8_t rsvd4[60];
	struct nvme_fdp_event events[NVME_FDP_MAX_EVENTS];
} NVME_PACKED;
static_assert(sizeof(struct nvme_fdp_events_log) == 4096, "FDP Events log");

/* Get/Set Features FDP (1Dh): CDW11 bits 15:0 Endurance Group; value: FDPE, FDPCIDX */
#define NVME_FEAT_FDP_FDPE (1u << 0)
#define NVME_FEAT_FDP_FDPCIDX_SHIFT 8
/* Get/Set Features FDP Events (1Eh): CDW11 = Placement Handle | NOET << 16; CDW12 bit 0 enables */
struct nvme_fdp_supported_event_desc {
	uint8_t evt;  /* enum nvme_fdp_event_type */
	uint8_t evta; /* bit 0: the event is enabled */
} NVME_PACKED;
static_assert(sizeof(struct nvme_fdp_supported_event_desc) == 2, "Supported FDP Event Descriptor");

/* Reclaim Unit Handle Status (I/O Management Receive, MO 1): this header, then descriptors */
struct nvme_fdp_ruh_status {
	uint8_t rsvd0[14];
	uint16_t nruhsd;
} NVME_PACKED;
static_assert(sizeof(struct nvme_fdp_ruh_status) == 16, "RUH Status header");

struct nvme_fdp_ruh_status_desc {
	uint16_t pid;
	uint16_t ruhid;
	uint32_t earutr; /* Estimated Active Reclaim Unit Time Remaining, seconds */
	uint64_t ruamw;  /* Reclaim Unit Available Media Writes, logical blocks */
	uint8_t rsvd16[16];
} NVME_PACKED;
static_assert(sizeof(struct nvme_fdp_ruh_status_desc) == 32, "RUH Status Descriptor");

/* Discovery log (NVMe over Fabrics 1.1, 5.3) */
enum nvmf_trtype { NVMF_TRTYPE_TCP = 3 };
enum nvmf_adrfam { NVMF_ADDR_FAMILY_IP4 = 1, NVMF_ADDR_FAMILY_IP6 = 2 };
enum nvmf_subtype {
	NVME_NQN_REFERRAL = 1,
	NVME_NQN_NVM = 2,
	NVME_NQN_CURR_DISC = 3,
};
#define NVMF_TREQ_NOT_SPECIFIED 0
#define NVMF_TCP_SECTYPE_NONE 0
#define NVMF_DISC_ENTRY_TRSVCID_LEN 32
#define NVMF_DISC_ENTRY_TRADDR_LEN 256

struct nvmf_disc_log_entry {
	uint8_t trtype;
	uint8_t adrfam;
	uint8_t subtype;
	uint8_t treq;
	uint16_t portid;
	uint16_t cntlid;
	uint16_t asqsz;
	uint16_t eflags;
	uint8_t resv10[20];
	char trsvcid[NVMF_DISC_ENTRY_TRSVCID_LEN];
	uint8_t resv64[192];
	char subnqn[NVMF_NQN_FIELD_LEN];
	char traddr[NVMF_DISC_ENTRY_TRADDR_LEN];
	uint8_t tsas[256];
} NVME_PACKED;
static_assert(sizeof(struct nvmf_disc_log_entry) == 1024, "Discovery log entry");

struct nvmf_disc_log_page_hdr {
	uint64_t genctr;
	uint64_t numrec;
	uint16_t recfmt;
	uint8_t resv14[1006];
} NVME_PACKED;
static_assert(sizeof(struct nvmf_disc_log_page_hdr) == 1024, "Discovery log header");

/* ------------------------------------------------------------------ */
/* Features                                                             */
/* ------------------------------------------------------------------ */

enum nvme_feature_id {
	NVME_FEAT_ARBITRATION = 0x01,
	NVME_FEAT_POWER_MGMT = 0x02,
	NVME_FEAT_TEMP_THRESH = 0x04,
	NVME_FEAT_ERR_RECOVERY = 0x05,
	NVME_FEAT_VOLATILE_WC = 0x06,
	NVME_FEAT_NUM_QUEUES = 0x07,
	NVME_FEAT_IRQ_COALESCE = 0x08,
	NVME_FEAT_WRITE_ATOMIC = 0x0A,
	NVME_FEAT_ASYNC_EVENT = 0x0B,
	NVME_FEAT_KATO = 0x0F,
	NVME_FEAT_HOST_ID = 0x81,
	NVME_FEAT_IOCS_PROFILE = 0x19,
	NVME_FEAT_FDP = 0x1D,
	NVME_FEAT_FDP_EVENTS = 0x1E,
};

#define NVME_FEAT_SEL_MASK 7u
#define NVME_FEAT_SEL_CURRENT 0
#define NVME_FEAT_SEL_DEFAULT 1
#define NVME_FEAT_SEL_SAVED 2
#define NVME_FEAT_SEL_SUPPORTED 3

/* Asynchronous Event completion dword 0 */
enum nvme_async_event_type {
	NVME_AER_TYPE_ERROR = 0,
	NVME_AER_TYPE_SMART = 1,
	NVME_AER_TYPE_NOTICE = 2,
};
#define NVME_AER_NOTICE_NS_CHANGED 0x00
#define NVME_AER_NOTICE_ZONE_DESC_CHANGED 0xEF
#define NVME_AER_NOTICE_DISC_CHANGED 0xF0
#define NVME_AER_RESULT(type, info, lid) ((uint32_t)(type) | (uint32_t)(info) << 8 | (uint32_t)(lid) << 16)

/* ------------------------------------------------------------------ */
/* Zoned Namespace Command Set                                          */
/* ------------------------------------------------------------------ */

enum nvme_zone_send_action {
	NVME_ZONE_CLOSE = 0x01,
	NVME_ZONE_FINISH = 0x02,
	NVME_ZONE_OPEN = 0x03,
	NVME_ZONE_RESET = 0x04,
	NVME_ZONE_OFFLINE = 0x05,
	NVME_ZONE_SET_DESC_EXT = 0x10,
	NVME_ZONE_ZRWA_FLUSH = 0x11,
};
/* Zone Management Send zsflags (CDW13 bits 15:8) */
#define NVME_ZONE_SEND_SELECT_ALL (1u << 0)
#define NVME_ZONE_SEND_ZRWAA (1u << 1) /* allocate a ZRWA with an Open */

enum nvme_zone_recv_action {
	NVME_ZRA_ZONE_REPORT = 0,
	NVME_ZRA_EXT_ZONE_REPORT = 1,
};

enum nvme_zone_report_filter {
	NVME_ZRASF_ALL = 0,
	NVME_ZRASF_EMPTY = 1,
	NVME_ZRASF_IMP_OPEN = 2,
	NVME_ZRASF_EXP_OPEN = 3,
	NVME_ZRASF_CLOSED = 4,
	NVME_ZRASF_FULL = 5,
	NVME_ZRASF_READ_ONLY = 6,
	NVME_ZRASF_OFFLINE = 7,
};
/* Zone Management Receive zraflags (CDW13 bits 23:16) */
#define NVME_ZONE_RECV_PARTIAL (1u << 0)

enum nvme_zone_state {
	NVME_ZS_EMPTY = 0x1,
	NVME_ZS_IMP_OPEN = 0x2,
	NVME_ZS_EXP_OPEN = 0x3,
	NVME_ZS_CLOSED = 0x4,
	NVME_ZS_READ_ONLY = 0xD,
	NVME_ZS_FULL = 0xE,
	NVME_ZS_OFFLINE = 0xF,
};
#define NVME_ZONE_TYPE_SEQWRITE_REQ 0x2
#define NVME_ZA_ZFC (1u << 0)
#define NVME_ZA_FZR (1u << 1)
#define NVME_ZA_RZR (1u << 2)
#define NVME_ZA_ZRWAV (1u << 3)
#define NVME_ZA_ZDEV (1u << 7)

struct nvme_zone_descriptor {
	uint8_t zt;
	uint8_t zs; /* state in bits 7:4 */
	uint8_t za;
	uint8_t zai;
	uint8_t rsvd4[4];
	uint64_t zcap;
	uint64_t zslba;
	uint64_t wp;
	uint8_t rsvd32[32];
} NVME_PACKED;
static_assert(sizeof(struct nvme_zone_descriptor) == 64, "Zone Descriptor");

struct nvme_zone_report_hdr {
	uint64_t nr_zones;
	uint8_t rsvd8[56];
} NVME_PACKED;
static_assert(sizeof(struct nvme_zone_report_hdr) == 64, "Zone Report header");

#define NVME_NQN_DISC "nqn.2014-08.org.nvmexpress.discovery"

#endif
