"""Organizations (団体): prefectures, municipalities, special wards and municipal associations."""
