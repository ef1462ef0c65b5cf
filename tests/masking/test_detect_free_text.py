from masking.detect import detect_column


def test_notes_with_embedded_contacts_suggest_free_text_redaction():
    sample = [
        "Prefers e-mail at jane.roe@example.com; call after 5pm.",
        "Spoke with Mr. Tremblay about the refund.",
        "Callback number (514) 555-0199 before Friday.",
        "Left a voicemail, no answer yet.",
        "Happy with delivery times overall.",
    ]
    d = detect_column("notes", "text", "string", sample)
    assert d is not None and d.entity == "free_text_pii" and d.technique == "free_text_redact"
    assert d.sensitivity == 2 and 0.5 < d.confidence <= 1.0


def test_prose_without_personal_data_is_not_flagged():
    sample = [
        "Stainless steel bottle, keeps drinks cold for 24 hours.",
        "Lightweight rain jacket with taped seams and two pockets.",
        "Set of three ceramic bowls, dishwasher safe.",
        "Organic cotton t-shirt in a relaxed fit.",
    ]
    assert detect_column("description", "text", "string", sample) is None


def test_card_holder_column_is_a_full_name():
    sample = ["Maria Lopez", "John Smith", "Aiko Tanaka", "Pierre Dubois"]
    d = detect_column("card_holder", "varchar", "string", sample)
    assert d is not None and d.technique == "full_name"
