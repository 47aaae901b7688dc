-- Store locales and per-locale translations of the catalog and banners.
--
-- The catalog's own columns hold the text of the default locale; a translation row holds, for
-- one entity and one other locale, the fields translated so far (a JSON object, validated by the
-- server against the entity's translatable fields). A missing field falls back to the entity's
-- own column. The default locale never has translation rows (the server refuses them), so
-- "default language" always means the catalog's own columns.

CREATE TABLE locales (
    -- BCP 47: language, optional script, optional region (`en-IN`, `hi-IN`, `zh-Hant-TW`).
    code       TEXT PRIMARY KEY
               CHECK (code ~ '^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$'),
    name       TEXT        NOT NULL CHECK (name <> '' AND length(name) <= 100),
    is_default BOOLEAN     NOT NULL DEFAULT FALSE,
    -- Text-search configuration for this language (`simple` where PostgreSQL has none).
    dictionary REGCONFIG   NOT NULL DEFAULT 'simple',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Exactly one default is kept by the server; at most one by the database.
CREATE UNIQUE INDEX locales_one_default ON locales (is_default) WHERE is_default;
INSERT INTO locales (code, name, is_default, dictionary)
VALUES ('en-IN', 'English (India)', TRUE, 'english');

CREATE TABLE translations (
    entity_type TEXT        NOT NULL CHECK (entity_type IN
                    ('product', 'variant', 'option', 'category', 'collection', 'banner')),
    entity_id   BIGINT      NOT NULL,
    locale      TEXT        NOT NULL REFERENCES locales (code) ON DELETE RESTRICT ON UPDATE CASCADE,
    fields      JSONB       NOT NULL CHECK (jsonb_typeof(fields) = 'object'),
    -- Products only: their translated title and description for search in the locale's language.
    search      TSVECTOR,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (entity_type, entity_id, locale)
);
-- Reads probe the primary key (type, id, locale); staff look up a locale's rows by it.
CREATE INDEX translations_locale_idx ON translations (locale, entity_type, entity_id);
CREATE INDEX translations_search_idx ON translations USING GIN (search)
    WHERE entity_type = 'product';

-- The search vector follows the row's fields and its locale's dictionary.
CREATE FUNCTION translations_search() RETURNS trigger AS $$
BEGIN
    IF NEW.entity_type = 'product' THEN
        SELECT setweight(to_tsvector(l.dictionary, coalesce(NEW.fields ->> 'title', '')), 'A') ||
               setweight(to_tsvector(l.dictionary, coalesce(NEW.fields ->> 'description', '')), 'B')
          INTO NEW.search
          FROM locales l WHERE l.code = NEW.locale;
    ELSE
        NEW.search := NULL;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER translations_search BEFORE INSERT OR UPDATE OF fields, locale ON translations
    FOR EACH ROW EXECUTE FUNCTION translations_search();

