// Attachment routes: upload (raw body or multipart, streamed to disk) and download (ranges, ETag).
import { Elysia, t } from "elysia";
import type { Deps } from "../../deps";
import { ApiError } from "../../errors";
import { createRateLimiter } from "../../lib/rate-limiter";
import { now } from "../../lib/time";
import { andThen } from "../../ports/stores";
import { authPlugin, bearerSecurity } from "../auth/plugin";
import { ErrorBody, errorResponses, IdParams } from "../shared-model";
import { downloadResponse } from "./download";
import { sanitizeFilename, DEFAULT_FILENAME } from "./filename";
import { AttachmentView, UploadQuery, type AttachmentRow } from "./model";
import { findVisibleAttachment, insertAttachment, pendingUploads, toAttachmentView, usedBytes } from "./service";
import { sniff } from "./sniff";
import { filesDirOf } from "./store";
import { quotaExceeded, receiveUpload } from "./upload";

export const UPLOAD_PATH = "/api/v1/attachments";
/** Uploads one user may make in any minute (when --rate-limit is on). */
export const UPLOADS_PER_MINUTE = 60;
/** Uploads one user may hold that no message uses yet: 10,000 tiny uploads stop here. */
export const MAX_PENDING_UPLOADS = 200;

export const attachmentsModule = (deps: Deps) => {
  const filesDir = filesDirOf(deps.config.dataDir);
  const perUser = createRateLimiter(UPLOADS_PER_MINUTE, 60_000, deps.config.rateLimit);
  return new Elysia({ prefix: "/api/v1", tags: ["attachments"] })
    .use(authPlugin(deps))
    .post(
      "/attachments",
      async ({ request, query, user, set }) => {
        const wait = perUser.hit(user.id);
        if (wait > 0) throw new ApiError(429, "rate_limited", `At most ${UPLOADS_PER_MINUTE} uploads per minute, try again later`, { "Retry-After": String(wait) });
        if ((await pendingUploads(deps, user.id)) >= MAX_PENDING_UPLOADS) {
          throw new ApiError(429, "too_many_pending_uploads", `At most ${MAX_PENDING_UPLOADS} uploads may wait for a message; send or let them expire first`, {
            "Retry-After": "60",
          });
        }
        const quota = deps.config.uploadQuotaBytes;
        const limits = { maxBytes: deps.config.maxUploadBytes, quotaLeft: quota - (await usedBytes(deps, user.id)) };
        const received = await receiveUpload(request, filesDir, limits, query.filename ?? null);
        // From here on chained, never awaited (synchronous on SQLite): the quota is checked again
        // (uploads of one user may have run in parallel), and the blob is linked and its row
        // inserted with no sweep in between.
        return andThen(usedBytes(deps, user.id), (used) => {
          if (used + received.size > quota) {
            received.blob.discard();
            throw quotaExceeded();
          }
          const kind = sniff(received.head, received.claimedType);
          const row: AttachmentRow = {
            id: Bun.randomUUIDv7(),
            owner_id: user.id,
            sha256: received.sha256,
            size: received.size,
            content_type: kind.contentType,
            filename: sanitizeFilename(received.filename) || DEFAULT_FILENAME,
            width: kind.width ?? null,
            height: kind.height ?? null,
            created_at: now(),
            claimed_at: null,
          };
          received.blob.commit(received.sha256);
          return andThen(insertAttachment(deps, row), () => {
            set.status = 201;
            return toAttachmentView(row);
          });
        });
      },
      {
        auth: true,
        // The body is the file: read as a stream by receiveUpload, never parsed (nor buffered) by Elysia.
        parse: "none",
        query: UploadQuery,
        response: { 201: AttachmentView, ...errorResponses },
        detail: {
          summary: "Upload a file",
          description:
            "The body is the file (its Content-Type, and `?filename=`), or multipart/form-data with one part named `file`. " +
            "Streamed to disk; over --max-upload-bytes (default 25 MiB) 413 payload_too_large, over the user's --upload-quota-bytes " +
            `413 quota_exceeded; empty 422; a body cut off by the client closing the connection 400 upload_aborted. ${UPLOADS_PER_MINUTE} uploads per minute and ${MAX_PENDING_UPLOADS} not yet sent per user (429). ` +
            "PNG, JPEG, GIF and WebP are recognised by their bytes (with width and height); a claimed image that is none of them is stored as application/octet-stream. " +
            "Uploads no message uses are deleted after 24 hours (--unused-upload-ttl).",
          security: bearerSecurity,
          requestBody: {
            required: true,
            content: {
              "application/octet-stream": { schema: { type: "string", format: "binary" } },
              "multipart/form-data": { schema: { type: "object", properties: { file: { type: "string", format: "binary" } }, required: ["file"] } },
            },
          },
        },
      },
    )
    .get("/attachments/:attachment_id", async ({ params, user, request }) => downloadResponse(await findVisibleAttachment(deps, params.attachment_id, user.id), filesDir, request), {
      auth: true,
      params: IdParams("attachment_id"),
      response: { 200: t.Any({ description: "The file's bytes" }), 206: t.Any({ description: "The requested range" }), 304: t.Any(), 416: ErrorBody, ...errorResponses },
      detail: {
        summary: "Download a file",
        description:
          "For its uploader and the members of a conversation whose message holds it (else 404). ETag is the sha256 (If-None-Match → 304); " +
          "one Range per request (206, 416 when unsatisfiable); nosniff, a sandboxing CSP, and Content-Disposition: attachment except for PNG, JPEG, GIF and WebP.",
        security: bearerSecurity,
      },
    });
};
