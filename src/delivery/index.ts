/** Mail in (LMTP, SMTP) and out (submission, outbound queue); the server wiring imports from here. */
export { createLmtpService } from './lmtp.js';
export { createSmtpService } from './smtp.js';
export { createSubmissionService, type SubmissionOptions } from './submission.js';
export { createOutboundQueue, type OutboundOptions, type OutboundQueue, type Route } from './outbound.js';
export { SmtpReply, type DeliveryServiceOptions } from './smtp-common.js';
export { deliver, type DeliverOptions, type DeliverResult, type DeliverFailureCode } from './deliver.js';
export { resolveRecipient, isUserAddress, AliasTable, type Resolution } from './resolve.js';
export { buildDsn, type DsnInput, type FailedRecipient } from './dsn.js';
export { defaultDisposition, runStages, type DeliveryStage, type Disposition, type LocalMessage, type Target, type Transport } from './pipeline.js';
