DROP TRIGGER translations_forget ON products;
DROP TRIGGER translations_forget ON product_variants;
DROP TRIGGER translations_forget ON product_options;
DROP TRIGGER translations_forget ON categories;
DROP TRIGGER translations_forget ON collections;
DROP TRIGGER translations_forget ON hero_banners;
DROP FUNCTION translations_forget();
