DROP INDEX "messages_conversation_rev";--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "created_rev" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "messages_changed_rev" ON "messages" USING btree ("conversation_id","rev") WHERE rev != created_rev;