# Provider instances of the example project. They point at `herald sandbox`
# (http://127.0.0.1:8090), which fakes the three providers' APIs locally;
# sandbox.env holds the sandbox's credentials:
#
#   herald sandbox &
#   herald run oncall-digest --secrets-file workflows/sandbox.env
#
# For the real services, change the URLs and put real credentials in
# HERALD_SECRET_* variables or a secrets file kept out of version control.

provider "chatapi" {
  config = {
    instance_id    = "229607"
    token          = "{{ secrets.CHATAPI_TOKEN }}"
    api_url        = "http://127.0.0.1:8090/chatapi"
    uid            = "{{ secrets.CHATAPI_UID }}"
    management_url = "http://127.0.0.1:8090/chatapi"
  }
  rate_limit = "20/s"
}

provider "whatsapp_cc" {
  type = "chitchatlabs"
  config = {
    api_key  = "{{ secrets.CCL_KEY }}"
    base_url = "http://127.0.0.1:8090/chitchatlabs"
  }
}

provider "support" {
  type = "chatwoot"
  config = {
    base_url         = "http://127.0.0.1:8090/chatwoot"
    account_id       = 1
    inbox_id         = 1
    api_access_token = "{{ secrets.CW_TOKEN }}"
    webhook_secret   = "{{ secrets.CW_HOOK }}"
  }
}
