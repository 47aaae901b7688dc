-- (Idempotent: an early build of migration 000014 created the same function and triggers.)
-- A deleted entity takes its translations with it (they would otherwise keep its locales from
-- being deleted). Products and variants are soft-deleted and keep theirs.
CREATE OR REPLACE FUNCTION translations_forget() RETURNS trigger AS $$
BEGIN
    DELETE FROM translations WHERE entity_type = TG_ARGV[0] AND entity_id = OLD.id;
    RETURN OLD;
END
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS translations_forget ON products;
CREATE TRIGGER translations_forget AFTER DELETE ON products
    FOR EACH ROW EXECUTE FUNCTION translations_forget('product');
DROP TRIGGER IF EXISTS translations_forget ON product_variants;
CREATE TRIGGER translations_forget AFTER DELETE ON product_variants
    FOR EACH ROW EXECUTE FUNCTION translations_forget('variant');
DROP TRIGGER IF EXISTS translations_forget ON product_options;
CREATE TRIGGER translations_forget AFTER DELETE ON product_options
    FOR EACH ROW EXECUTE FUNCTION translations_forget('option');
DROP TRIGGER IF EXISTS translations_forget ON categories;
CREATE TRIGGER translations_forget AFTER DELETE ON categories
    FOR EACH ROW EXECUTE FUNCTION translations_forget('category');
DROP TRIGGER IF EXISTS translations_forget ON collections;
CREATE TRIGGER translations_forget AFTER DELETE ON collections
    FOR EACH ROW EXECUTE FUNCTION translations_forget('collection');
DROP TRIGGER IF EXISTS translations_forget ON hero_banners;
CREATE TRIGGER translations_forget AFTER DELETE ON hero_banners
    FOR EACH ROW EXECUTE FUNCTION translations_forget('banner');
