// The attachment SQL the message paths share lives with the storage adapter (db/message-sql.ts).
export { ATTACHMENT_CLAIM_FAILED, attachmentsJson, CLAIM_ATTACHMENT, LINK_ATTACHMENT } from "../../db/message-sql";
