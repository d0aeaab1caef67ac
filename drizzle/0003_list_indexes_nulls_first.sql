DROP INDEX "images_category_idx";--> statement-breakpoint
DROP INDEX "generations_created_at_id_idx";--> statement-breakpoint
DROP INDEX "images_created_at_id_idx";--> statement-breakpoint
DROP INDEX "images_role_created_at_idx";--> statement-breakpoint
CREATE INDEX "images_category_created_at_idx" ON "images" USING btree ("category","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "images_role_category_created_at_idx" ON "images" USING btree ("role","category","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "generations_created_at_id_idx" ON "generations" USING btree ("created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "images_created_at_id_idx" ON "images" USING btree ("created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "images_role_created_at_idx" ON "images" USING btree ("role","created_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);