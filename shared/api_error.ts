/** The API error vocabulary (plane-0.5.md §2.1) and its JSON body `{id, kind, message}`. */
import { z } from "zod";

export const ApiErrorKind = z.enum([
  // Plane 0.5's kinds, spelled exactly as it serializes them.
  "FailedToAcquireKey",
  "KeyUnheldNoSpawnConfig",
  "KeyHeldUnhealthy",
  "KeyHeld",
  "NoDroneAvailable",
  "FailedToRemoveKey",
  "DatabaseError",
  "NoClusterProvided",
  "NotFound",
  "InvalidClusterName",
  "Other",
  // Ours: request-level rejections Plane leaves to its framework with plain-text bodies.
  "InvalidRequest",
  "UnsupportedMediaType",
  "PayloadTooLarge",
  "MethodNotAllowed",
  "Unauthorized",
  // Authenticated, but not allowed by this controller's configuration (403).
  "Forbidden",
  "BadGateway",
  // The Jamsocket API's concurrent-backend limit (429).
  "TooManyBackends",
]);
export type ApiErrorKind = z.infer<typeof ApiErrorKind>;

export const ApiError = z.object({
  id: z.string(),
  kind: ApiErrorKind,
  message: z.string(),
});
export type ApiError = z.infer<typeof ApiError>;
