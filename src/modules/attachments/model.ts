// Attachment schemas: the view clients see (upload answer and inside messages) and the route inputs.
import { t, type Static } from "elysia";
import { Timestamp, Uuid } from "../shared-model";

export const MAX_ATTACHMENTS_PER_MESSAGE = 10;

export const AttachmentView = t.Object(
  {
    id: Uuid,
    filename: t.String({ description: "Sanitized: no path, controls or bidi overrides; at most 255 characters" }),
    content_type: t.String({ description: "Sniffed for PNG/JPEG/GIF/WebP; a claimed image the bytes do not back is application/octet-stream" }),
    size: t.Integer({ minimum: 1, description: "Bytes" }),
    sha256: t.String({ pattern: "^[0-9a-f]{64}$", description: "Hex SHA-256 of the bytes (also the download's ETag)" }),
    width: t.Optional(t.Integer({ minimum: 1, description: "Images only, from the file's header" })),
    height: t.Optional(t.Integer({ minimum: 1 })),
    created_at: Timestamp,
  },
  { description: "An uploaded file" },
);
export type AttachmentView = Static<typeof AttachmentView>;

export const UploadQuery = t.Object({
  filename: t.Optional(t.String({ maxLength: 4096, description: "The file's name (raw uploads; multipart takes the part's)" })),
});

export type { AttachmentRow } from "../../ports/stores";
