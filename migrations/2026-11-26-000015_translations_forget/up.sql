-- A deleted entity takes its translations with it (they would otherwise keep its locales from
-- being deleted). Products and variants are soft-deleted and keep theirs.
CREATE FUNCTION translations_forget() RETURNS trigger AS $$
BEGIN
    DELETE FROM translations WHERE entity_type = TG_ARGV[0] AND entity_id = OLD.id;
    RETURN OLD;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER translations_forget AFTER DELETE ON products
    FOR EACH ROW EXECUTE FUNCTION translations_forget('product');
CREATE TRIGGER translations_forget AFTER DELETE ON product_variants
    FOR EACH ROW EXECUTE FUNCTION translations_forget('variant');
CREATE TRIGGER translations_forget AFTER DELETE ON product_options
    FOR EACH ROW EXECUTE FUNCTION translations_forget('option');
CREATE TRIGGER translations_forget AFTER DELETE ON categories
    FOR EACH ROW EXECUTE FUNCTION translations_forget('category');
CREATE TRIGGER translations_forget AFTER DELETE ON collections
    FOR EACH ROW EXECUTE FUNCTION translations_forget('collection');
CREATE TRIGGER translations_forget AFTER DELETE ON hero_banners
    FOR EACH ROW EXECUTE FUNCTION translations_forget('banner');
