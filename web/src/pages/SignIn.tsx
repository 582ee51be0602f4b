import { useState, type FormEvent } from "react";
import { api, errorOf } from "../api/client";
import { useI18n } from "../i18n";
import { useSession } from "../session";

/** The OTP login: an email, then the code mailed to it (the server answers the same for every address). */
export function SignInPage() {
  const { t, toggle } = useI18n();
  const { session, refresh } = useSession();
  const [email, setEmail] = useState("");
  const [code, setCode] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [sent, setSent] = useState(session?.state === "challenge_issued");

  const start = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const r = await api.POST("/api/auth/otp/start", { body: { email } });
    if (r.response.ok) setSent(true);
    else setError(errorOf(r.response.status, r.error).message);
  };
  const verify = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const r = await api.POST("/api/auth/otp/verify", { body: { code: code.trim() } });
    if (r.response.ok) await refresh();
    else setError(errorOf(r.response.status, r.error).message);
  };
  return (
    <div className="signin panel">
      <div className="row">
        <h1 style={{ flex: 1, margin: 0 }}>{t("appName")}</h1>
        <button onClick={toggle}>{t("language")}</button>
      </div>
      {!sent ? (
        <form onSubmit={start} className="signin" style={{ margin: 0 }}>
          <label>
            {t("email")}
            <br />
            <input name="email" type="email" required value={email} onChange={(e) => setEmail(e.target.value)} style={{ width: "100%" }} />
          </label>
          <button className="primary" type="submit">
            {t("sendCode")}
          </button>
        </form>
      ) : (
        <form onSubmit={verify} className="signin" style={{ margin: 0 }}>
          <div>{t("codeSent")}</div>
          <input name="code" autoComplete="one-time-code" required value={code} onChange={(e) => setCode(e.target.value.toUpperCase())} />
          <button className="primary" type="submit">
            {t("verify")}
          </button>
        </form>
      )}
      {error && <div className="error">{error}</div>}
    </div>
  );
}
