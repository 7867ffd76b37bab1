// The error code of a lost attachment claim, shared by both engines' group commits (ports/message-commit.ts).
export { ATTACHMENT_CLAIM_FAILED } from "../../ports/message-commit";
