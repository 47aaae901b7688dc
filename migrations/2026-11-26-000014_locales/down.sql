DROP TABLE translations;
DROP FUNCTION translations_search();
DROP TABLE locales;
