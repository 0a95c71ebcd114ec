//! The user service in tests: typed calls on `ApiClient`, for every protocol.

use passlink::pb::zitadel::user::v2 as user_pb;

use super::failure::Failure;
use super::wire::ApiClient;

impl ApiClient {
    pub async fn add_human_user(
        &self,
        request: user_pb::AddHumanUserRequest,
    ) -> Result<user_pb::AddHumanUserResponse, Failure> {
        self.call("AddHumanUser", &request).await
    }

    pub async fn get_user_by_id(
        &self,
        user_id: &str,
    ) -> Result<user_pb::GetUserByIdResponse, Failure> {
        let request = user_pb::GetUserByIdRequest {
            user_id: user_id.into(),
        };
        self.call("GetUserByID", &request).await
    }

    pub async fn delete_user(&self, user_id: &str) -> Result<user_pb::DeleteUserResponse, Failure> {
        let request = user_pb::DeleteUserRequest {
            user_id: user_id.into(),
        };
        self.call("DeleteUser", &request).await
    }

    pub async fn create_passkey_registration_link(
        &self,
        request: user_pb::CreatePasskeyRegistrationLinkRequest,
    ) -> Result<user_pb::CreatePasskeyRegistrationLinkResponse, Failure> {
        self.call("CreatePasskeyRegistrationLink", &request).await
    }

    pub async fn register_passkey(
        &self,
        request: user_pb::RegisterPasskeyRequest,
    ) -> Result<user_pb::RegisterPasskeyResponse, Failure> {
        self.call("RegisterPasskey", &request).await
    }

    pub async fn verify_passkey_registration(
        &self,
        request: user_pb::VerifyPasskeyRegistrationRequest,
    ) -> Result<user_pb::VerifyPasskeyRegistrationResponse, Failure> {
        self.call("VerifyPasskeyRegistration", &request).await
    }

    pub async fn list_passkeys(
        &self,
        user_id: &str,
    ) -> Result<user_pb::ListPasskeysResponse, Failure> {
        let request = user_pb::ListPasskeysRequest {
            user_id: user_id.into(),
        };
        self.call("ListPasskeys", &request).await
    }

    pub async fn remove_passkey(
        &self,
        user_id: &str,
        passkey_id: &str,
    ) -> Result<user_pb::RemovePasskeyResponse, Failure> {
        let request = user_pb::RemovePasskeyRequest {
            user_id: user_id.into(),
            passkey_id: passkey_id.into(),
        };
        self.call("RemovePasskey", &request).await
    }
}
